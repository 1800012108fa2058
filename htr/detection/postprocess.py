"""From probability maps to polygons, and on to a page: numpy, cv2, pyclipper and shapely only (no torch).

Per kind: binarize the map, optionally split regions that hold several confident seeds along the valley of
probability between them (watershed; separates touching lines), trace each region's outer contour, simplify
it (approxPolyDP, so curved and slanted lines keep their shape), score it by the mean probability inside,
grow it back by the offset that undoes the training shrink (pyclipper), and scale it to original pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import shapely

from htr.document import Line, Page, Word, assign_ids, nest_shapes
from htr.geometry import clean_polygon, expand_distance, offset_polygon, short_side
from htr.layout import layout


@dataclass(eq=False)
class Detection:
    polygon: np.ndarray  # (K, 2) float32, original-image pixels
    score: float  # mean probability inside the detected kernel
    kind: str  # "line" | "word"


@dataclass
class PostConfig:
    """Thresholds of one kind; ``unclip_ratio`` None undoes the shrink exactly (``expand_distance``),
    a number uses DB's D' = A' * unclip_ratio / L' instead."""

    shrink_ratio: float = 0.4
    bin_thresh: float = 0.3  # probability above which a pixel is text
    box_thresh: float = 0.5  # minimum mean probability of a region
    seed_thresh: float | None = 0.6  # split regions holding several components above this; None: never
    unclip_ratio: float | None = None
    unclip_scale: float = 1.0  # multiplies the growth offset
    min_size: float = 1.5  # smallest kernel short side kept, map pixels
    epsilon: float = 0.6  # approxPolyDP tolerance, map pixels
    max_regions: int = 2000


def _stacked_groups(seed_labels: np.ndarray, region: np.ndarray, ids: np.ndarray) -> dict[int, int]:
    """Seed id -> group id for the seeds of one region: seeds that overlap across the region's direction
    (pieces of one line, side by side) share a group; seeds stacked one above the other do not."""
    ys, xs = np.nonzero(region)
    (_, _), (w, h), angle = cv2.minAreaRect(np.stack([xs, ys], 1).astype(np.float32))
    t = np.deg2rad(angle + (90.0 if h > w else 0.0))  # the region's long direction
    normal = np.array([-np.sin(t), np.cos(t)])
    sy, sx = np.nonzero(np.isin(seed_labels, ids) & region)
    lab = seed_labels[sy, sx]
    across = sx * normal[0] + sy * normal[1]
    spans = {int(i): (across[lab == i].min(), across[lab == i].max() + 1) for i in ids}
    group = {i: i for i in spans}

    def root(i):
        while group[i] != i:
            i = group[i]
        return i

    order = sorted(spans)
    for n, i in enumerate(order):
        for j in order[n + 1:]:
            (a0, a1), (b0, b1) = spans[i], spans[j]
            if min(a1, b1) - max(a0, b0) > 0.5 * min(a1 - a0, b1 - b0):
                group[root(j)] = root(i)
    return {i: root(i) for i in spans}


def split_regions(prob: np.ndarray, binary: np.ndarray, seed_thresh: float | None) -> np.ndarray:
    """``binary`` as uint8, with 1-pixel cuts through every connected region that holds stacked seeds
    (components of prob > seed_thresh; seeds side by side along the region's direction count as one):
    each pixel of such a region goes to its nearest seed group, and the pixels where that assignment
    changes are cleared (the result is meant for 4-connected labelling)."""
    binary = binary.astype(np.uint8)
    if seed_thresh is None:
        return binary
    seeds = (prob > seed_thresh).astype(np.uint8) & binary
    n_seeds, seed_labels = cv2.connectedComponents(seeds, connectivity=8)
    if n_seeds <= 2:  # background + at most one seed: nothing to split
        return binary
    _, region_labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    on = seeds > 0
    pairs = np.unique(np.stack([region_labels[on], seed_labels[on]]), axis=1)
    regions, counts = np.unique(pairs[0], return_counts=True)
    lut = np.zeros(n_seeds, np.int32)  # seed id -> group id (0: not split)
    for r in regions[counts > 1]:
        x, y, w, h, _ = stats[r]
        box = (slice(y, y + h), slice(x, x + w))
        groups = _stacked_groups(seed_labels[box], region_labels[box] == r, pairs[1][pairs[0] == r])
        if len(set(groups.values())) > 1:
            for i, g in groups.items():
                lut[i] = g
    if not lut.any():
        return binary
    todo = np.isin(region_labels, np.unique(region_labels[on & (lut[seed_labels] > 0)]))
    source = np.where(todo & on, 0, 255).astype(np.uint8)  # distance to the seeds of the regions to split
    _, nearest = cv2.distanceTransformWithLabels(source, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    seed_of = np.zeros(nearest.max() + 1, np.int32)  # DIST_LABEL_PIXEL numbers the zero pixels
    zero = source == 0
    seed_of[nearest[zero]] = lut[seed_labels[zero]]
    owner = seed_of[nearest]
    cut = np.zeros_like(todo)
    cut[:, :-1] |= owner[:, :-1] != owner[:, 1:]
    cut[:-1, :] |= owner[:-1, :] != owner[1:, :]
    out = binary.copy()
    out[todo & cut] = 0
    return out


def simplify(contour: np.ndarray, epsilon: float) -> np.ndarray:
    """A contour (N, 1, 2) as a float64 (K, 2) polygon simplified to ``epsilon`` pixels (K >= 4 where possible)."""
    approx = cv2.approxPolyDP(contour, epsilon, True) if epsilon > 0 else contour
    if len(approx) < 4:
        approx = contour
    return approx.reshape(-1, 2).astype(np.float64)


def unclip(poly: np.ndarray, cfg: PostConfig) -> np.ndarray | None:
    """The kernel polygon grown back to the text outline; the largest piece where pyclipper gives several,
    None where it gives none."""
    area, perimeter = abs(cv2.contourArea(poly.astype(np.float32))), cv2.arcLength(poly.astype(np.float32), True)
    if area <= 0 or perimeter <= 0:
        return None
    if cfg.unclip_ratio is None:
        distance = expand_distance(area, perimeter, cfg.shrink_ratio)
    else:
        distance = area * cfg.unclip_ratio / perimeter
    grown = offset_polygon(poly, distance * cfg.unclip_scale)
    if not grown:
        return None
    return max(grown, key=lambda p: abs(cv2.contourArea(p.astype(np.float32))))


def region_polygons(prob: np.ndarray, cfg: PostConfig) -> list[tuple[np.ndarray, float]]:
    """(polygon in map pixels, score) for every region of one probability map (H, W) float."""
    prob = np.asarray(prob, np.float32)
    binary = split_regions(prob, prob > cfg.bin_thresh, cfg.seed_thresh)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA])[: cfg.max_regions] + 1
    out = []
    for i in order:
        x, y, w, h, area = stats[i]
        if area < 3 or min(w, h) < cfg.min_size:
            continue
        crop = labels[y:y + h, x:x + w] == i
        score = float(prob[y:y + h, x:x + w][crop].mean())
        if score < cfg.box_thresh:
            continue
        contours, _ = cv2.findContours(crop.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:
            continue
        contour = max(contours, key=cv2.contourArea)
        # contour points are pixel centres; +0.5 puts the polygon on the pixel grid of the map, and the
        # half pixel of the border the contour runs through is added back by growing it by 0.5
        poly = simplify(contour, cfg.epsilon) + (x + 0.5, y + 0.5)
        pieces = [p for part in clean_polygon(poly) for p in offset_polygon(part, 0.5)]
        if not pieces:
            continue
        poly = max(pieces, key=lambda p: abs(cv2.contourArea(p.astype(np.float32))))
        if short_side(poly) < cfg.min_size:
            continue
        grown = unclip(poly, cfg)
        if grown is not None:
            out.append((grown, score))
    return out


def maps_to_detections(prob: np.ndarray, scale: float | tuple[float, float], image_size: tuple[int, int],
                       kinds=("line", "word"), configs: dict[str, PostConfig] | None = None,
                       wanted: tuple[str, ...] | None = None) -> list[Detection]:
    """Detections from probability maps ``prob`` (kinds, H, W).

    ``scale``: original pixels per map pixel (one number, or (sx, sy)); ``image_size``: (width, height) of
    the original image, to which polygons are clipped. ``configs`` maps kind -> PostConfig (defaults).
    ``wanted``: the kinds to trace (None: all). Detections come per kind in descending area order.
    """
    prob = np.asarray(prob)
    if prob.ndim == 2:
        prob = prob[None]
    sx, sy = (scale, scale) if np.isscalar(scale) else scale
    width, height = image_size
    configs = configs or {}
    found = []
    for channel, kind in enumerate(kinds[: len(prob)]):
        if wanted is not None and kind not in wanted:
            continue
        cfg = configs.get(kind, PostConfig())
        for poly, score in region_polygons(prob[channel], cfg):
            pts = poly * (sx, sy)
            pts[:, 0] = np.clip(pts[:, 0], 0, width)
            pts[:, 1] = np.clip(pts[:, 1], 0, height)
            if abs(cv2.contourArea(pts.astype(np.float32))) <= 0:
                continue
            found.append(Detection(pts.astype(np.float32), score, kind))
    return found


# A line region mostly of solid ink is a filing hole, a blot or a stamp pad, not writing: dev lines of hooker,
# testaments and the examples cover 4-33% of their polygon with ink, filing holes on blank pages 75-84%
# (MODEL_CARD.md, "Pages found empty"). Ink is what is at or below Otsu's threshold of the region's
# surroundings (its box grown by half its longer side, at most 3 times its shorter, each way), and below
# PAPER_SHARE of their median (the paper): a page-wide threshold, or one of surroundings that reach a white
# margin, counts all of a brown or blue sheet scanned beside white as ink. Measured on the page shrunk to a long
# side of INK_SIDE (a filing hole is still 7-10 px across there).
SOLID_INK, PAPER_SHARE, INK_SIDE = 0.6, 0.75, 600


def ink_share(gray: np.ndarray, polygon: np.ndarray) -> float:
    """Share of the pixels inside ``polygon`` (pixels of ``gray``) that are ink (above)."""
    (x0, y0), (x1, y1) = polygon.min(0), polygon.max(0)
    grow = min(max(x1 - x0, y1 - y0) / 2, 3 * min(x1 - x0, y1 - y0) + 4)
    h, w = gray.shape
    wx0, wy0 = int(max(0, x0 - grow)), int(max(0, y0 - grow))
    wx1, wy1 = int(min(w, x1 + grow + 1)), int(min(h, y1 + grow + 1))
    window = gray[wy0:wy1, wx0:wx1]
    if not window.size:
        return 0.0
    otsu, _ = cv2.threshold(window, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink_below = min(otsu, PAPER_SHARE * float(np.median(window)))
    mask = np.zeros(window.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(polygon - (wx0, wy0)).astype(np.int32)], 1)
    inside = window[mask > 0]
    return float((inside <= ink_below).mean()) if inside.size else 0.0


def drop_solid(detections: list[Detection], gray: np.ndarray) -> list[Detection]:
    """``detections`` without the lines of solid ink (SOLID_INK of their polygon, ``ink_share`` on the page
    shrunk to INK_SIDE pixels) and the words centred in them."""
    f = min(1.0, INK_SIDE / max(gray.shape))
    small = cv2.resize(gray, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else gray
    solid = [d.polygon for d in detections if d.kind == "line" and ink_share(small, d.polygon * f) > SOLID_INK]
    if not solid:
        return detections

    def inside_solid(d: Detection) -> bool:
        cx, cy = d.polygon.mean(0)
        return any(cv2.pointPolygonTest(p.astype(np.float32), (float(cx), float(cy)), False) >= 0 for p in solid)
    return [d for d in detections if not inside_solid(d)]


def detections_to_page(detections: list[Detection], width: int, height: int, source: str | None = None) -> Page:
    """Lines in blocks and reading order (htr.layout), each with the words whose largest overlap is with it
    (clipped to it: ``htr.document.nest_shapes``)."""
    lines = [Line(polygon=d.polygon, confidence=round(d.score, 4)) for d in detections if d.kind == "line"]
    shapes = [shapely.Polygon(ln.polygon).buffer(0) for ln in lines]
    for w in (d for d in detections if d.kind == "word"):
        geom = shapely.Polygon(w.polygon).buffer(0)
        overlaps = [geom.intersection(s).area for s in shapes]
        if overlaps and max(overlaps) > 0.3 * geom.area:
            lines[int(np.argmax(overlaps))].words.append(Word(polygon=w.polygon, confidence=round(w.score, 4)))
    for line in lines:
        line.words.sort(key=lambda w: w.polygon[:, 0].min())
    return assign_ids(nest_shapes(Page(width=width, height=height, blocks=layout(lines), source=source)))


__all__ = ["Detection", "PostConfig", "maps_to_detections", "drop_solid", "ink_share", "region_polygons",
           "split_regions", "unclip", "simplify", "detections_to_page"]
