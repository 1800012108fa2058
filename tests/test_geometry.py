"""Line crops on synthetic shapes drawn here: rotation, curvature, masking, fixed height, degenerate input."""
import cv2
import numpy as np
import pytest

from htr.evaluate import polygon_iou
from htr.geometry import crop_line, line_spacing, min_area_axis


def rotate(points, angle_deg, centre=(200.0, 200.0)):
    a = np.deg2rad(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return ((np.asarray(points, float) - centre) @ r.T + centre).astype(np.float32)


def band(curve_pts, normals, above, below):
    """The polygon between curve - above * normal and curve + below * normal."""
    return np.concatenate([curve_pts - above * normals, (curve_pts + below * normals)[::-1]]).astype(np.float32)


def ink_rows(crop, min_dark=1, threshold=100):
    """Row of the darkest pixel per column, over columns that hold ink darker than ``threshold``."""
    dark = crop < threshold
    cols = np.nonzero(dark.sum(0) >= min_dark)[0]
    return crop[:, cols].argmin(0), cols


def text_like_page(angle):
    """A white page with a rotated dark rule 10 px above a baseline and short 'letters' standing on it;
    returns the page, the line polygon (30 px above to 10 px below) and the baseline."""
    page = np.full((400, 400, 3), 255, np.uint8)
    x = np.linspace(80, 320, 50)
    base = rotate(np.stack([x, np.full_like(x, 200)], 1), angle)
    rule = rotate(np.stack([x, np.full_like(x, 190)], 1), angle)
    cv2.polylines(page, [np.round(rule).astype(np.int32)], False, (0, 0, 0), 3)
    for xi in range(90, 320, 20):  # letters: short vertical strokes from the baseline up
        stroke = rotate([[xi, 200], [xi, 185]], angle)
        cv2.line(page, tuple(np.round(stroke[0]).astype(int)), tuple(np.round(stroke[1]).astype(int)),
                 (170, 170, 170), 2)  # lighter than the rule, so the test can tell them apart
    n = np.array([-np.sin(np.deg2rad(angle)), np.cos(np.deg2rad(angle))])  # down the page, rotated
    poly = band(base[[0, -1]], np.stack([n, n]), 30, 10)
    return page, poly, base[[0, -1]]


@pytest.mark.parametrize("use_baseline", [True, False])
@pytest.mark.parametrize("angle", [-25, 0, 15])
def test_rotated_line_comes_out_horizontal(angle, use_baseline):
    page, poly, base = text_like_page(angle)
    crop = crop_line(page, poly, base if use_baseline else None, height=40)
    assert crop is not None and crop.image.shape[0] == 40
    assert crop.image.shape[1] == pytest.approx(240 * 40 / 40, abs=8)  # 240 px long, band 40 px high
    rows, cols = ink_rows(crop.image[:, 10:-10])
    assert len(cols) > 150
    assert np.percentile(rows, 90) - np.percentile(rows, 10) <= 3  # the rule is one horizontal row band


def test_curved_baseline_is_straightened():
    page = np.full((400, 500), 255, np.uint8)
    x = np.arange(60, 440, 2.0)
    y = 200 + 35 * np.sin((x - 60) / 380 * np.pi)  # an arc 35 px deep
    base = np.stack([x, y], 1).astype(np.float32)
    t = np.gradient(base, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    n = np.stack([-t[:, 1], t[:, 0]], 1)
    rule = base - 12 * n
    cv2.polylines(page, [np.round(rule).astype(np.int32)], False, 0, 3)
    poly = band(base[::10], n[::10], 30, 10)
    crop = crop_line(page, poly, base[::10], height=40)
    assert crop is not None
    rows, cols = ink_rows(crop.image[:, 8:-8])
    assert len(cols) > 0.8 * (crop.image.shape[1] - 16)
    assert np.percentile(rows, 95) - np.percentile(rows, 5) <= 3
    # Without the baseline the arc stays curved: the rule wanders over many rows.
    flat = crop_line(page, poly, None, height=40)
    rows_flat, _ = ink_rows(flat.image[:, 8:-8])
    assert np.ptp(rows_flat) > 8


def test_outside_polygon_is_masked_with_paper():
    page = np.full((300, 400, 3), 40, np.uint8)  # dark 'neighbouring lines' everywhere ...
    poly = np.array([[50, 120], [350, 100], [355, 150], [55, 170]], np.float32)  # ... but inside a slanted line
    cv2.fillPoly(page, [np.round(poly).astype(np.int32)], (235, 235, 235))
    masked = crop_line(page, poly, height=32)
    assert masked.image.shape[0] == 32
    assert masked.image.min() > 150  # nothing of the dark surroundings is left ...
    assert (masked.image < 220).mean() < 0.01  # ... beyond a little blending at the polygon's edge
    unmasked = crop_line(page, poly, height=32, mask=False)
    assert unmasked.image.min() < 100


@pytest.mark.parametrize("height", [24, 40, 64])
def test_fixed_height_and_aspect(height):
    page = np.full((200, 600), 250, np.uint8)
    poly = np.array([[20, 50], [580, 50], [580, 110], [20, 110]], np.float32)
    crop = crop_line(page, poly, np.array([[20, 100], [580, 100]]), height=height)
    assert crop.image.shape[0] == height and crop.image.dtype == np.uint8
    assert crop.image.shape[1] == pytest.approx(560 * height / 60, rel=0.05)


def test_grey_and_rgb_give_the_same_crop():
    rng = np.random.default_rng(0)
    page = rng.integers(0, 255, (120, 200, 3), dtype=np.uint8)
    poly = np.array([[10, 20], [190, 30], [188, 90], [12, 80]], np.float32)
    a = crop_line(page, poly).image
    b = crop_line(cv2.cvtColor(page, cv2.COLOR_RGB2GRAY), poly).image
    assert np.array_equal(a, b)


def test_crop_maps_back_to_the_page():
    page, poly, base = text_like_page(20)
    crop = crop_line(page, poly, base, height=40, pad=4)
    assert crop.image.shape[1] == pytest.approx(240 + 8, abs=8)
    outline = crop.span_polygon(0, crop.image.shape[1])
    assert polygon_iou(outline, poly) > 0.85
    centre = crop.to_page([[crop.image.shape[1] / 2, 30]])[0]  # on the baseline (row 30 of 40)
    assert np.allclose(centre, base.mean(0), atol=3)


@pytest.mark.parametrize("poly", [
    [[10, 10], [50, 10]],  # two points
    [[10, 10], [50, 10], [90, 10]],  # collinear: no area
    [[10, 10], [10.5, 10], [10.5, 10.5], [10, 10.5]],  # under 2 px
    [[10, 10], [50, 10], [np.nan, 30]],  # not finite
])
def test_degenerate_polygons_give_none(poly):
    page = np.full((100, 100), 255, np.uint8)
    assert crop_line(page, np.array(poly, np.float32)) is None


def test_malformed_input_raises():
    page = np.full((100, 100), 255, np.uint8)
    with pytest.raises(ValueError):
        crop_line(page, [1, 2, 3])  # odd number of coordinates
    with pytest.raises(ValueError):
        crop_line(np.zeros((100, 100, 4), np.uint8), [[10, 10], [80, 10], [80, 40], [10, 40]])


def test_min_area_axis_runs_left_to_right():
    poly = rotate([[100, 180], [300, 180], [300, 220], [100, 220]], 160)
    a, b = min_area_axis(poly)
    assert a[0] < b[0]
    assert np.hypot(*(b - a)) == pytest.approx(200, abs=1)


def test_thin_strip_polygon_gets_a_line_band():
    page = np.full((200, 400), 250, np.uint8)
    cv2.putText(page, "Hello line", (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 0, 3)
    strip = np.array([[15, 108], [380, 108], [380, 121], [15, 121]], np.float32)  # 13 px: the text is 35 tall
    base = np.array([[15, 120], [380, 120]], np.float32)
    thin = crop_line(page, strip, base, height=40)
    rescued = crop_line(page, strip, base, height=40, min_extent=(50, 20))
    assert rescued.image.shape[1] < thin.image.shape[1] / 3
    assert (rescued.image[:15] < 128).any()  # the tops of the letters are in, not masked


def test_line_spacing():
    from htr.document import Line, box_polygon
    lines = [Line(box_polygon(0, y - 30, 100, y + 5), baseline=[[0, y], [100, y]]) for y in (100, 180, 262, 340)]
    assert line_spacing(lines) == pytest.approx(80)
    assert line_spacing(lines[:2]) is None
