"""Line polygons to recogniser input: deskewed, straightened, masked grey crops of a fixed height.

A line is sampled along a reference curve: its baseline when known, else the long axis of the polygon's
minimum-area rectangle. Each crop column is one arc-length step along the curve, each row one step along
the curve's normal, so rotated lines come out horizontal and curved lines straight. Pixels outside the
polygon (neighbouring lines' ascenders and descenders) are filled with the line's paper colour. The
result keeps the mapping back to page pixels, so character x-spans become word polygons.

Also the polygon helpers the detector's post-processing and its training targets share: cleaning, offsetting
(DB's shrink and its inverse) and measuring outlines. Polygon area and IoU live in ``htr.evaluate``
(``polygon_iou``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyclipper
import shapely

from htr.document import as_polygon


@dataclass
class LineCrop:
    """A line crop and the map from its pixels back to the page.

    ``image`` is (height, W) uint8 grey. Crop column x sits at arc length ``x / scale`` along ``curve``
    (one point per page pixel of arc length, with unit ``normals`` pointing down the line); crop row y sits
    ``top + y / scale`` page pixels along the normal.
    """

    image: np.ndarray
    curve: np.ndarray  # (N, 2) float32 page points, 1 px apart
    normals: np.ndarray  # (N, 2) float32 unit normals (towards the descenders)
    top: float  # normal offset of row 0, page pixels (negative: above the reference curve)
    scale: float  # crop pixels per page pixel

    def to_page(self, points) -> np.ndarray:
        """Crop (x, y) points as page (x, y) points, float32 (K, 2)."""
        pts = np.asarray(points, np.float32).reshape(-1, 2)
        s = np.clip(pts[:, 0] / self.scale, 0, len(self.curve) - 1)
        i = np.clip(np.floor(s).astype(int), 0, max(len(self.curve) - 2, 0))
        f = (s - i)[:, None] if len(self.curve) > 1 else np.zeros((len(s), 1), np.float32)
        j = np.minimum(i + 1, len(self.curve) - 1)
        c = self.curve[i] * (1 - f) + self.curve[j] * f
        n = self.normals[i] * (1 - f) + self.normals[j] * f
        d = self.top + pts[:, 1:2] / self.scale
        return (c + n * d).astype(np.float32)

    def span_polygon(self, x0: float, x1: float, steps: int = 4) -> np.ndarray:
        """The page polygon of crop columns x0..x1 over the crop's full height (a word's box)."""
        h = self.image.shape[0]
        xs = np.linspace(x0, x1, max(2, steps))
        top = np.stack([xs, np.zeros_like(xs)], 1)
        bottom = np.stack([xs[::-1], np.full_like(xs, h)], 1)
        return self.to_page(np.concatenate([top, bottom]))


def to_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 grey from an (H, W) grey or (H, W, 3) RGB uint8 image."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")


def min_area_axis(polygon: np.ndarray) -> np.ndarray:
    """The long axis of a polygon's minimum-area rectangle as two points, left to right: (2, 2) float32."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(np.asarray(polygon, np.float32))
    theta = np.deg2rad(angle if w >= h else angle + 90.0)
    half = max(w, h) / 2.0
    d = np.array([np.cos(theta), np.sin(theta)], np.float32)
    if d[0] < 0 or (d[0] == 0 and d[1] < 0):
        d = -d
    c = np.array([cx, cy], np.float32)
    return np.stack([c - d * half, c + d * half])


def _resample(points: np.ndarray, step: float = 1.0) -> np.ndarray:
    """A polyline resampled at ``step`` arc-length spacing (duplicate points dropped)."""
    seg = np.diff(points, axis=0)
    keep = np.concatenate([[True], np.hypot(seg[:, 0], seg[:, 1]) > 1e-6])
    points = points[keep]
    if len(points) < 2:
        return points
    seglen = np.hypot(*np.diff(points, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seglen)])
    t = np.arange(0.0, s[-1] + 1e-6, step)
    return np.stack([np.interp(t, s, points[:, 0]), np.interp(t, s, points[:, 1])], 1).astype(np.float32)


def _tangents(curve: np.ndarray, window: int) -> np.ndarray:
    """Unit tangents of a densely sampled curve, smoothed over ``window`` points so vertices do not kink."""
    g = np.gradient(curve, axis=0)
    if window > 1 and len(curve) > 2:
        k = np.ones(window, np.float32) / window
        g = np.stack([np.convolve(np.pad(g[:, i], window, mode="edge"), k, "same")[window:-window]
                      for i in range(2)], 1)
    return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-6)


def _reference_curve(poly: np.ndarray, baseline: np.ndarray | None) -> np.ndarray | None:
    """The baseline (or min-area axis) densified and extended past both ends of the polygon."""
    ref = None
    if baseline is not None and len(baseline) >= 2:
        ref = _resample(as_polygon(baseline))
        if len(ref) < 2:
            ref = None
    if ref is None:
        ref = _resample(min_area_axis(poly))
        if len(ref) < 2:
            return None
    x0, y0 = poly.min(0)
    x1, y1 = poly.max(0)
    reach = float(np.hypot(x1 - x0, y1 - y0)) + 2.0
    n = int(np.ceil(reach))
    t0 = ref[min(len(ref) - 1, 5)] - ref[0]
    t1 = ref[-1] - ref[max(0, len(ref) - 6)]
    t0 /= max(np.linalg.norm(t0), 1e-6)
    t1 /= max(np.linalg.norm(t1), 1e-6)
    steps = np.arange(1, n + 1, dtype=np.float32)[:, None]
    head = ref[0] - t0 * steps[::-1]
    tail = ref[-1] + t1 * steps
    return np.concatenate([head, ref, tail]).astype(np.float32)


def _project(points: np.ndarray, curve: np.ndarray, normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc-length index and signed normal offset of each point relative to the nearest curve point
    (searched on every 4th curve point, then refined along the local tangent)."""
    coarse = curve[::4]
    d2 = (coarse ** 2).sum(1)[None, :] - 2.0 * (points @ coarse.T)  # |p - c|^2 less the constant |p|^2
    idx = d2.argmin(1) * 4
    tangents = np.stack([normals[idx, 1], -normals[idx, 0]], 1)
    idx = np.clip(idx + np.round(((points - curve[idx]) * tangents).sum(1)).astype(np.int64), 0, len(curve) - 1)
    off = ((points - curve[idx]) * normals[idx]).sum(1)
    return idx, off


def _densify(poly: np.ndarray, step: float) -> np.ndarray:
    closed = np.concatenate([poly, poly[:1]])
    return _resample(closed, step) if len(closed) > 1 else poly


def crop_line(image: np.ndarray, polygon, baseline=None, height: int = 40, *, mask: bool = True,
              pad: int = 0, min_extent: tuple[float, float] | None = None) -> LineCrop | None:
    """The line inside ``polygon`` as a straightened grey crop ``height`` pixels high, or None when the
    polygon is degenerate (fewer than 3 points, no area, or under 2 px across).

    ``image`` is the page, (H, W) grey or (H, W, 3) RGB uint8. The crop follows ``baseline`` when given
    (points in reading order), else the polygon's minimum-area rectangle. ``mask`` fills everything outside
    the polygon with the line's paper colour (the median grey inside it); ``pad`` adds that many crop pixels
    of paper at both ends. Crop width follows the line's aspect ratio; nothing is squashed.
    ``min_extent`` (above, below the reference curve, page pixels) rescues polygons drawn as thin strips
    along the baseline: when the polygon spans under half of it, the crop spans it instead, unmasked.
    """
    poly = as_polygon(polygon)
    if len(poly) < 3 or not np.isfinite(poly).all() or abs(cv2.contourArea(poly)) < 1.0:
        return None
    x0, y0 = poly.min(0)
    x1, y1 = poly.max(0)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    bl = None
    if baseline is not None:
        bl = as_polygon(baseline)
        bl = bl if len(bl) >= 2 and np.isfinite(bl).all() else None
    curve = _reference_curve(poly, bl)
    if curve is None:
        return None
    tangents = _tangents(curve, window=max(3, int(0.5 * (y1 - y0)) | 1))
    normals = np.stack([-tangents[:, 1], tangents[:, 0]], 1)
    idx, off = _project(_densify(poly, 4.0), curve, normals)
    s0, s1 = int(idx.min()), int(idx.max())
    top, bottom = float(off.min()), float(off.max())
    if min_extent is not None and bottom - top < 0.5 * (min_extent[0] + min_extent[1]):
        top, bottom, mask = min(top, -min_extent[0]), max(bottom, min_extent[1]), False
    if s1 - s0 < 2 or bottom - top < 2:
        return None
    curve, normals = curve[s0:s1 + 1], normals[s0:s1 + 1]
    rows = top + 0.5 + np.arange(max(2, int(round(bottom - top))), dtype=np.float32)  # row centres
    map_x = curve[None, :, 0] + normals[None, :, 0] * rows[:, None]
    map_y = curve[None, :, 1] + normals[None, :, 1] * rows[:, None]
    # Work on the page region the maps touch only.
    h_img, w_img = image.shape[:2]
    bx0 = int(max(0, np.floor(map_x.min()) - 1))
    by0 = int(max(0, np.floor(map_y.min()) - 1))
    bx1 = int(min(w_img, np.ceil(map_x.max()) + 2))
    by1 = int(min(h_img, np.ceil(map_y.max()) + 2))
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    region = to_grey(np.ascontiguousarray(image[by0:by1, bx0:bx1]))
    map_x -= bx0
    map_y -= by0
    native = cv2.remap(region, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if mask:
        inside = np.zeros(region.shape, np.uint8)
        cv2.fillPoly(inside, [np.round(poly - [bx0, by0]).astype(np.int32)], 255)
        inside = cv2.remap(inside, map_x, map_y, cv2.INTER_NEAREST, borderValue=0)
        inside = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0  # edge pixels interpolate with the outside
        paper = int(np.median(native[inside])) if inside.any() else int(np.median(native))
        native[~inside] = paper
    else:
        paper = int(np.median(native))
    scale = height / native.shape[0]
    width = max(1, int(round(native.shape[1] * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out = cv2.resize(native, (width, height), interpolation=interp)
    if pad > 0:
        out = cv2.copyMakeBorder(out, 0, 0, pad, pad, cv2.BORDER_CONSTANT, value=paper)
        ext = max(1, int(round(pad / scale)))
        t0 = np.array([normals[0, 1], -normals[0, 0]], np.float32)  # tangent = (n_y, -n_x)
        t1 = np.array([normals[-1, 1], -normals[-1, 0]], np.float32)
        steps = np.arange(1, ext + 1, dtype=np.float32)[:, None]
        curve = np.concatenate([curve[0] - t0 * steps[::-1], curve, curve[-1] + t1 * steps])
        normals = np.concatenate([np.repeat(normals[:1], ext, 0), normals, np.repeat(normals[-1:], ext, 0)])
    return LineCrop(out, curve.astype(np.float32), normals.astype(np.float32), top, float(scale))


def line_spacing(lines) -> float | None:
    """The median vertical distance between consecutive baselines (lines with ``baseline``), or None."""
    ys = sorted(float(np.mean(line.baseline[:, 1])) for line in lines
                if line.baseline is not None and len(line.baseline))
    gaps = [b - a for a, b in zip(ys, ys[1:]) if b - a > 4]
    return float(np.median(gaps)) if len(gaps) >= 2 else None


def crop_page_lines(image: np.ndarray, lines, height: int = 40, **opts) -> list[LineCrop | None]:
    """``crop_line`` for each of a page's lines (objects with ``polygon`` and ``baseline``), grey once.
    Thin-strip polygons get the band a line of the page's median spacing would have (70% above the
    baseline, 30% below)."""
    grey = to_grey(image)
    spacing = line_spacing(lines)
    if spacing is not None and "min_extent" not in opts:
        opts["min_extent"] = (0.7 * spacing, 0.3 * spacing)
    return [crop_line(grey, line.polygon, line.baseline, height, **opts) for line in lines]


def clean_polygon(points) -> list[np.ndarray]:
    """The simple polygons (float64 (K, 2), K >= 3, positive area) of an outline; self-intersecting outlines
    are split by ``shapely.make_valid``; degenerate ones give an empty list."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(arr) < 3 or not np.isfinite(arr).all():
        return []
    geom = shapely.Polygon(arr)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [g for g in shapely.get_parts(shapely.get_parts(geom)) if g.geom_type == "Polygon" and g.area > 0]
    return [np.asarray(g.exterior.coords[:-1], np.float64) for g in parts]


def short_side(poly: np.ndarray) -> float:
    """The shorter side of the polygon's minimum-area rectangle (its 'height' for a text line)."""
    (_, _), (w, h), _ = cv2.minAreaRect(poly.astype(np.float32))
    return float(min(w, h))


def offset_polygon(poly: np.ndarray, distance: float, precision: float = 64.0) -> list[np.ndarray]:
    """The polygon grown (distance > 0) or shrunk (< 0) with round joins: zero, one or several polygons.

    Coordinates go to pyclipper as integers at 1 / ``precision`` pixel; arcs deviate at most 0.2 pixel.
    """
    pco = pyclipper.PyclipperOffset()
    pco.ArcTolerance = 0.2 * precision
    pco.AddPath(np.round(np.asarray(poly) * precision).astype(np.int64).tolist(), pyclipper.JT_ROUND,
                pyclipper.ET_CLOSEDPOLYGON)
    paths = pco.Execute(distance * precision)
    return [np.asarray(p, np.float64) / precision for p in paths if len(p) >= 3]


def expand_distance(area: float, perimeter: float, shrink_ratio: float) -> float:
    """The offset that undoes DB's shrink for a rectangle-like kernel of the given area and perimeter.

    A rectangle grown by D (square joins) has area A' + L'D + 4D^2 and perimeter L' + 8D; asking that D
    be the shrink offset of the grown shape, D = A (1 - r^2) / L, gives
    (4 + 4r^2) D^2 + r^2 L' D - (1 - r^2) A' = 0. Unlike DB's fixed ``unclip_ratio`` it restores long
    lines and short words alike.
    """
    r2 = shrink_ratio * shrink_ratio
    a, b, c = 4.0 + 4.0 * r2, r2 * perimeter, -(1.0 - r2) * area
    return float((-b + np.sqrt(b * b - 4 * a * c)) / (2 * a))
