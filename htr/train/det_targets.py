"""Training targets of DB for one kind of region: shrunk text kernels and threshold maps.

For a polygon of area A and perimeter L, the kernel is the polygon shrunk by D = A (1 - r^2) / L (round
joins, ``htr.geometry.offset_polygon``), and the threshold map rises from ``thresh_min`` far from the text to
``thresh_max`` on the polygon's border, over the band of width D on either side of it. Polygons that are too
small, degenerate, or whose kernel vanishes or rasterizes in specks are masked out (``mask`` = 0) rather than
taught as background. Text lines are first replaced by a band of constant thickness along their centre line
(``band_polygon``): real line outlines hug the ink, and shrink into fragments otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import shapely

from htr.geometry import clean_polygon, offset_polygon, short_side

SHIFT = 2  # sub-pixel bits for cv2 drawing: coordinates are drawn at 1/4 pixel precision
_ONE = 1 << SHIFT


@dataclass
class Targets:
    """Maps of one kind, all (H, W) float32: the kernel map, its loss mask, the threshold map and its mask."""

    gt: np.ndarray
    mask: np.ndarray
    thresh: np.ndarray
    thresh_mask: np.ndarray


def shrink_distance(poly: np.ndarray, ratio: float) -> float:
    """DB's offset D = A (1 - r^2) / L."""
    geom = shapely.Polygon(poly)
    return geom.area * (1.0 - ratio * ratio) / max(geom.length, 1e-6)


def line_angle(poly: np.ndarray) -> float:
    """The direction of a text line in degrees: the long side of its minimum-area rectangle, or for a
    squat outline (aspect under 1.5) whichever side is nearer horizontal."""
    (_, _), (w, h), angle = cv2.minAreaRect(poly.astype(np.float32))
    if h > w:
        w, h, angle = h, w, angle + 90.0
    angle = (angle + 90.0) % 180.0 - 90.0  # in [-90, 90)
    if w < 1.5 * h and abs(angle) > 45.0:
        angle = angle - 90.0 if angle > 0 else angle + 90.0
    return angle


def band_polygon(poly: np.ndarray, samples: int = 64) -> np.ndarray:
    """A text line's outline as a band of constant thickness along its centre line.

    Line outlines drawn tightly around the ink (narrow between words, spiked at ascenders) would shrink
    into fragments; the band keeps the line's direction and curvature and the median thickness of the
    outline, measured across the line's direction at ``samples`` resolution.
    """
    angle = np.deg2rad(line_angle(poly))
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # into the line's frame: x along the line
    centre = poly.mean(0)
    local = (poly - centre) @ rot.T
    lo, hi = local.min(0), local.max(0)
    size = hi - lo
    if size[1] < 1.0 or size[0] <= 0:  # a sliver (a line clipped at the crop's edge): nothing to straighten
        return poly
    k = samples / size[1]  # raster pixels per unit: the line is `samples` pixels thick at most
    w = int(np.ceil(size[0] * k)) + 1
    raster = np.zeros((samples + 2, w), np.uint8)
    fill(raster, [(local - lo) * k], 1)
    cols = np.flatnonzero(raster.any(0))
    if len(cols) < 2:
        return poly
    rows = raster[:, cols].astype(bool)
    top = rows.argmax(0)
    bottom = rows.shape[0] - 1 - rows[::-1].argmax(0)
    thick = float(np.median(bottom - top + 1))
    mid = (top + bottom + 1) / 2.0
    win = max(1, int(round(thick)))
    mid = np.convolve(np.pad(mid, win // 2, mode="edge"), np.ones(win) / win, mode="valid")[: len(cols)]
    step = max(1, len(cols) // max(2, int(np.ceil(len(cols) / max(thick, 1.0)))))  # a point per thickness
    idx = np.unique(np.r_[np.arange(0, len(cols), step), len(cols) - 1])
    xs = np.r_[cols[idx[0]], cols[idx[1:-1]] + 0.5, cols[idx[-1]] + 1.0]
    upper = np.stack([xs, mid[idx] - thick / 2], 1)
    lower = np.stack([xs, mid[idx] + thick / 2], 1)[::-1]
    band = np.concatenate([upper, lower]) / k + lo
    return band @ rot + centre


def _fixed(poly: np.ndarray, origin=(0.0, 0.0)) -> np.ndarray:
    """Points as cv2's fixed-point int32 array (SHIFT fractional bits), relative to ``origin``; pixel
    centres are at integer coordinates, so a point at x = 0.5 lies on the border of pixel 0."""
    return np.round((poly - np.asarray(origin) - 0.5) * _ONE).astype(np.int32).reshape(-1, 1, 2)


def fill(canvas: np.ndarray, polys: list[np.ndarray], value: float) -> None:
    """Fill polygons, area-true: cv2 also fills the pixels its edges pass through, so each polygon is drawn
    inset by half a pixel (where that leaves anything)."""
    inset = [q for p in polys for q in (offset_polygon(p, -0.5) or [p])]
    if inset:
        cv2.fillPoly(canvas, [_fixed(p) for p in inset], value, lineType=cv2.LINE_8, shift=SHIFT)


def draw_border(poly: np.ndarray, distance: float, thresh: np.ndarray, thresh_mask: np.ndarray) -> None:
    """Raise ``thresh`` to 1 - dist / distance near the polygon's border, within the polygon grown by distance."""
    grown = offset_polygon(poly, distance)
    if not grown:
        return
    fill(thresh_mask, grown, 1.0)
    h, w = thresh.shape
    pts = np.concatenate(grown)
    x0, y0 = np.floor(pts.min(0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
    if cx1 < cx0 or cy1 < cy0:
        return
    border = np.full((y1 - y0 + 1, x1 - x0 + 1), 255, np.uint8)
    cv2.polylines(border, [_fixed(poly, (x0, y0))], True, 0, 1, cv2.LINE_8, SHIFT)
    dist = cv2.distanceTransform(border, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    near = 1.0 - np.clip(dist / max(distance, 1e-6), 0.0, 1.0)
    inside = np.zeros_like(border)
    fill(inside, [g - (x0, y0) for g in grown], 1)
    near *= inside
    region = (slice(cy0, cy1 + 1), slice(cx0, cx1 + 1))
    crop = near[cy0 - y0: cy1 - y0 + 1, cx0 - x0: cx1 - x0 + 1]
    np.maximum(thresh[region], crop, out=thresh[region])


def _rasterizes_whole(kernels: list[np.ndarray]) -> bool:
    """Whether every kernel fills as one connected piece: kernels about a pixel thin come out dotted, and
    would teach a line as a row of specks."""
    for k in kernels:
        origin = np.floor(k.min(0)) - 1
        w, h = (np.ceil(k.max(0)) - origin + 2).astype(int)
        canvas = np.zeros((h, w), np.uint8)
        fill(canvas, [k - origin], 1)
        if cv2.connectedComponents(canvas, connectivity=4)[0] != 2:  # as post-processing labels regions
            return False
    return True


def make_targets(polygons, shape: tuple[int, int], scale: float = 1.0, shrink_ratio: float = 0.4,
                 thresh_min: float = 0.3, thresh_max: float = 0.7, min_size: float = 1.5,
                 band: bool = False, ignore=()) -> Targets:
    """DB targets on a (H, W) map for polygons given at 1 / ``scale`` of the map (scale = map / input).

    ``min_size`` is the smallest short side (map pixels) taught as text; smaller regions, regions whose
    kernel would be dotted rather than whole, and ``ignore`` polygons are masked out. ``band`` replaces each
    polygon by its constant-thickness band (``band_polygon``; for text lines, whose tight outlines would
    shrink into fragments). Overlapping kernels merge: keep ``shrink_ratio`` small enough that kernels of
    adjacent lines stay apart.
    """
    h, w = shape
    gt = np.zeros((h, w), np.float32)
    mask = np.ones((h, w), np.float32)
    thresh = np.zeros((h, w), np.float32)
    thresh_mask = np.zeros((h, w), np.float32)
    for points in ignore:
        fill(mask, clean_polygon(np.asarray(points, np.float64) * scale), 0.0)
    for points in polygons:
        for poly in clean_polygon(np.asarray(points, np.float64) * scale):
            if band:
                poly = band_polygon(poly)
            distance = shrink_distance(poly, shrink_ratio)
            kernels = offset_polygon(poly, -distance)
            if short_side(poly) < min_size or not kernels or not _rasterizes_whole(kernels):
                fill(mask, [poly], 0.0)  # too small to teach: neither text nor background
                continue
            fill(gt, kernels, 1.0)
            draw_border(poly, distance, thresh, thresh_mask)
    thresh = thresh * (thresh_max - thresh_min) + thresh_min
    return Targets(gt, mask, thresh.astype(np.float32), thresh_mask)
