"""Post-processing on synthetic probability maps: no torch involved."""
import subprocess
import sys

import cv2
import numpy as np

from htr.detection.postprocess import PostConfig, maps_to_detections, region_polygons, split_regions, unclip
from htr.evaluate import match_polygons, polygon_iou
from htr.geometry import offset_polygon
from htr.train.det_targets import make_targets


def kernel_map(polys, shape, r, band=False):
    """The probability map a perfect model would give: DB kernels at 0.9 on 0.02 background."""
    t = make_targets(polys, shape, shrink_ratio=r, band=band)
    return np.where(t.gt > 0, 0.9, 0.02).astype(np.float32)


def arc(cx, cy, radius, thick, a0, a1, n=40):
    a = np.deg2rad(np.linspace(a0, a1, n))
    outer = np.stack([cx + (radius + thick / 2) * np.cos(a), cy + (radius + thick / 2) * np.sin(a)], 1)
    inner = np.stack([cx + (radius - thick / 2) * np.cos(a), cy + (radius - thick / 2) * np.sin(a)], 1)
    return np.concatenate([outer, inner[::-1]])


def test_postprocess_imports_no_torch():
    code = "import sys, htr.detection.postprocess; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_recovers_rectangles_slanted_and_curved_lines():
    slanted = cv2.boxPoints(((200, 60), (300, 26), -7.0))
    straight = np.array([[40, 120], [360, 120], [360, 150], [40, 150]], float)
    curved = arc(200, 520, 300, 28, 245, 295)  # a line bending over 50 degrees
    polys = [slanted, straight, curved]
    prob = kernel_map(polys, (300, 400), 0.6)
    cfg = PostConfig(shrink_ratio=0.6)
    found = maps_to_detections(prob[None], 1.0, (400, 300), kinds=("line",), configs={"line": cfg})
    score, matches = match_polygons([d.polygon for d in found], polys, 0.5)
    assert (score.tp, score.fp, score.fn) == (3, 0, 0)
    assert min(iou for _, _, iou in matches) > 0.8
    curve = next(d for d in found if polygon_iou(d.polygon, curved) > 0.5)
    assert len(curve.polygon) > 8  # kept as a curve, not a box
    assert polygon_iou(curve.polygon, cv2.boxPoints(cv2.minAreaRect(curved.astype(np.float32)))) < 0.7
    assert all(d.kind == "line" and d.polygon.dtype == np.float32 and 0.85 < d.score <= 0.9 for d in found)


def test_scale_maps_to_original_pixels():
    polys = [np.array([[20, 20], [100, 20], [100, 40], [20, 40]], float)]
    prob = kernel_map(polys, (64, 128), 0.4)
    found = maps_to_detections(prob[None], (4.0, 2.0), (512, 128), kinds=("word",))
    assert len(found) == 1
    x0, y0 = found[0].polygon.min(0)
    x1, y1 = found[0].polygon.max(0)
    assert abs(x0 - 80) < 6 and abs(x1 - 400) < 6 and abs(y0 - 40) < 4 and abs(y1 - 80) < 4


def test_touching_lines_are_separated():
    a = np.array([[20, 40], [300, 40], [300, 64], [20, 64]], float)
    b = a + (0, 26)  # the next line, 2 px below
    prob = kernel_map([a, b], (120, 320), 0.6)
    prob[50:84, 150:153] = 0.5  # a descender bridging the two kernels, above bin_thresh, weakening both
    prob[55:76, 200:202] = np.maximum(prob[55:76, 200:202], 0.45)  # a second, thinner bridge
    merged = region_polygons(prob, PostConfig(shrink_ratio=0.6, seed_thresh=None))
    assert len(merged) == 1
    found = region_polygons(prob, PostConfig(shrink_ratio=0.6, seed_thresh=0.6))
    assert len(found) == 2
    score, _ = match_polygons([p for p, _ in found], [a, b], 0.5)
    assert score.tp == 2


def test_split_regions_leaves_single_regions_alone():
    prob = np.zeros((40, 40), np.float32)
    prob[10:20, 5:35] = 0.9
    binary = prob > 0.3
    assert (split_regions(prob, binary, 0.6) == binary).all()
    assert (split_regions(prob, binary, None) == binary).all()


def test_empty_and_low_score_maps():
    assert maps_to_detections(np.zeros((2, 50, 60), np.float32), 1.0, (60, 50)) == []
    prob = np.zeros((50, 60), np.float32)
    prob[10:30, 10:50] = 0.4  # above bin_thresh, under box_thresh
    assert maps_to_detections(prob, 1.0, (60, 50), kinds=("line",)) == []
    prob[5, 5] = 0.99  # one pixel: below min_size
    assert region_polygons(prob, PostConfig(box_thresh=0.3, min_size=2)) != []
    found = maps_to_detections(prob, 1.0, (60, 50), kinds=("line",), configs={"line": PostConfig(box_thresh=0.3)})
    assert len(found) == 1 and found[0].polygon.min() >= 0 and found[0].polygon[:, 1].max() <= 50


def test_unclip_none_and_several():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    assert unclip(np.zeros((4, 2)), PostConfig()) is None  # no area
    assert unclip(square, PostConfig(unclip_ratio=-2.0)) is None  # pyclipper returns nothing
    grown = unclip(square, PostConfig(unclip_ratio=1.5))  # D = 100 * 1.5 / 40
    assert np.allclose(grown.min(0), -3.75, atol=0.05) and np.allclose(grown.max(0), 13.75, atol=0.05)
    dumbbell = np.array([[0, 0], [10, 0], [10, 4], [30, 4.0], [30, 0], [40, 0], [40, 10], [30, 10], [30, 6],
                         [10, 6], [10, 10], [0, 10]], float)
    assert len(offset_polygon(dumbbell, -1.5)) == 2  # shrinking splits it: several results
    assert unclip(dumbbell, PostConfig(unclip_ratio=-0.3)) is not None  # the largest piece is kept
