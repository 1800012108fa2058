"""DB targets: shrunk kernels, threshold maps, degenerate polygons, line bands."""
import numpy as np
import pytest
import shapely

from htr.geometry import clean_polygon, expand_distance, offset_polygon
from htr.train.det_targets import band_polygon, line_angle, make_targets, shrink_distance


def rect(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def test_kernel_inside_polygon_with_db_area():
    poly = rect(20, 30, 120, 70)  # 100 x 40
    t = make_targets([poly], (100, 150), shrink_ratio=0.4)
    ys, xs = np.nonzero(t.gt)
    assert xs.min() >= 20 and xs.max() < 120 and ys.min() >= 30 and ys.max() < 70
    d = shrink_distance(poly, 0.4)
    assert abs(d - 4000 * (1 - 0.16) / 280) < 1e-6
    expected = (100 - 2 * d) * (40 - 2 * d)  # round joins only touch convex corners of the offset, inward none
    assert abs(t.gt.sum() - expected) / expected < 0.08
    assert t.mask.min() == 1.0


def test_threshold_map_peaks_on_border():
    poly = rect(20, 30, 120, 70)
    t = make_targets([poly], (100, 150), shrink_ratio=0.4, thresh_min=0.3, thresh_max=0.7)
    assert np.isclose(t.thresh.min(), 0.3) and t.thresh.max() <= 0.7 + 1e-6
    row = t.thresh[50]  # across the left and right borders (x = 20 and 120, pixel 19/20 and 119/120)
    assert row[18:22].max() > 0.65 and row[118:122].max() > 0.65
    assert row[70] < 0.35  # the centre is farther than D from the border
    assert t.thresh_mask[50, 70] == 1 and t.thresh_mask[5, 5] == 0  # the grown polygon, not beyond
    assert t.thresh[5, 5] == np.float32(0.3)


def test_degenerate_polygons_are_ignored_not_background():
    tiny = rect(10, 10, 11, 30)  # 1 px wide
    line = np.array([[50, 50], [80, 50], [110, 50]], float)  # collinear: no area
    bowtie = np.array([[60, 10], [90, 40], [90, 10], [60, 40]], float)  # self-intersecting
    t = make_targets([tiny, line, bowtie, [[1, 2]], np.full((4, 2), np.nan)], (64, 128), min_size=2)
    assert t.gt[10:30, 10].sum() == 0 and t.mask[15, 10] == 0  # too thin: masked out
    assert t.gt[15:35, 62:88].sum() > 0  # the bow-tie's two triangles become kernels
    assert len(clean_polygon(bowtie)) == 2
    assert clean_polygon(line) == [] and clean_polygon([[1, 2]]) == []


def test_scale_and_empty_input():
    t = make_targets([], (32, 32))
    assert t.gt.sum() == 0 and t.mask.min() == 1
    t = make_targets([rect(40, 40, 200, 100)], (64, 128), scale=0.5)  # polygon given at twice the map's scale
    ys, xs = np.nonzero(t.gt)
    assert 20 <= xs.min() and xs.max() < 100 and 20 <= ys.min() and ys.max() < 50


def test_expand_distance_inverts_the_shrink():
    for w, h, r in ((300, 30, 0.6), (60, 30, 0.4), (40, 40, 0.4)):
        poly = rect(0, 0, w, h)
        d = shrink_distance(poly, r)
        kernel = offset_polygon(poly, -d)[0]
        k = shapely.Polygon(kernel)
        grown = shapely.Polygon(offset_polygon(kernel, expand_distance(k.area, k.length, r))[0])
        assert grown.intersection(shapely.Polygon(poly)).area / grown.union(shapely.Polygon(poly)).area > 0.93


def test_band_of_a_jagged_line_is_one_kernel():
    xs = np.arange(0, 401, 20.0)
    top = 50 + np.where(np.arange(len(xs)) % 2, -15, 5)  # spikes up to 15 px and pinches
    bottom = 80 + np.where(np.arange(len(xs)) % 2, 10, -12)
    poly = np.concatenate([np.stack([xs, top], 1), np.stack([xs, bottom], 1)[::-1]])
    band = band_polygon(poly)
    assert shapely.Polygon(band).is_valid
    import cv2
    plain = make_targets([poly], (160, 420), shrink_ratio=0.6)
    banded = make_targets([poly], (160, 420), shrink_ratio=0.6, band=True)
    assert cv2.connectedComponents(plain.gt.astype(np.uint8))[0] - 1 > 1  # the pinches cut it up
    assert cv2.connectedComponents(banded.gt.astype(np.uint8))[0] - 1 == 1


def test_line_angle():
    for a in (0.0, 8.0, -10.0, 30.0):
        t = np.deg2rad(a)
        d, n = np.array([np.cos(t), np.sin(t)]), np.array([-np.sin(t), np.cos(t)])
        poly = np.array([-n * 10, d * 200 - n * 10, d * 200 + n * 10, n * 10]) + 100
        assert abs(line_angle(poly) - a) < 0.5


@pytest.mark.shared
def test_real_line_outlines_survive_targets_and_postprocess():
    """A perfect model's maps (the band kernels) of real pages give back their lines at IoU 0.5."""
    from htr.detection.postprocess import PostConfig, maps_to_detections
    from htr.evaluate import DetectionScore, match_polygons
    from htr.formats import read_document
    from tests.shared import shared_path

    total = DetectionScore()
    for name in ("hooker", "testaments"):
        for xml in sorted(shared_path("data", name, "train").glob("*.xml"))[:3]:
            page = read_document(xml)
            s = 512 / max(page.width, page.height)
            polys = [ln.polygon for ln in page.lines if len(ln.polygon) >= 3]
            t = make_targets(polys, (int(page.height * s) + 1, int(page.width * s) + 1), s, 0.6, band=True)
            prob = np.where(t.gt > 0, 0.9, 0.02).astype(np.float32)
            found = maps_to_detections(prob, 1 / s, (page.width, page.height), ("line",),
                                       {"line": PostConfig(shrink_ratio=0.6)})
            total += match_polygons([d.polygon for d in found], polys)[0]
    assert total.f1 > 0.95, total


def test_thin_slanted_strip_is_whole_or_ignored():
    """A strip about 3 px thick at 10 degrees: its kernel is one 4-connected piece, or the strip is masked
    out; never a row of specks that post-processing would read as many lines."""
    import cv2
    for thick in (2.5, 3.0, 3.5, 5.0):
        strip = cv2.boxPoints(((100, 50), (180, thick), 10.0)).astype(np.float64)
        t = make_targets([strip], (100, 200), shrink_ratio=0.6, band=True)
        pieces = cv2.connectedComponents(t.gt.astype(np.uint8), connectivity=4)[0] - 1
        assert pieces == 1 or (pieces == 0 and t.mask[50, 100] == 0), (thick, pieces)


def test_band_of_a_sliver_is_the_sliver():
    """A line clipped at a crop edge can leave a polygon far thinner than a pixel: it must come back as it is,
    not be rasterised at (samples / thickness) pixels per unit (that once asked for a 7 GiB array)."""
    sliver = np.array([[10.0, 5.0], [400.0, 5.0], [400.0, 5.0 + 1e-6], [10.0, 5.0 + 1e-6]])
    assert np.array_equal(band_polygon(sliver), sliver)


def test_a_large_page_read_smaller_keeps_its_ground_truth_on_the_writing(tmp_path):
    """load_page(at_least=): a large scan decoded at half size, its line polygons scaled with it onto the same
    ink; blank paper (no lines) counts as ground truth for words too."""
    import cv2

    from htr.data.pages import load_page
    from htr.document import Block, Line, Page, box_polygon
    from htr.formats.pagexml import write_page_xml
    from htr.train.det_data import kind_polygons

    image = np.full((1800, 2400, 3), 250, np.uint8)
    cv2.rectangle(image, (400, 600), (1800, 680), (20, 20, 20), -1)  # a "line" of ink
    line = Line(polygon=box_polygon(400, 600, 1800, 680), text="x")
    (tmp_path / "p.xml").write_text(write_page_xml(Page(width=2400, height=1800, blocks=[
        Block(polygon=line.polygon, lines=[line])])), encoding="utf-8")
    cv2.imwrite(str(tmp_path / "p.jpg"), image)
    small, page = load_page(tmp_path / "p.jpg", tmp_path / "p.xml", at_least=1000)
    assert small.shape == (900, 1200, 3) and (page.width, page.height) == (1200, 900)
    x0, y0 = page.lines[0].polygon.min(0)
    x1, y1 = page.lines[0].polygon.max(0)
    assert (x0, y0, x1, y1) == pytest.approx((200, 300, 900, 340), abs=1)
    assert small[320, 550].max() < 60 and small[360, 550].min() > 200  # ink inside the polygon, paper below
    full, same = load_page(tmp_path / "p.jpg", tmp_path / "p.xml")
    assert full.shape == (1800, 2400, 3) and same.lines[0].polygon.max(0) == pytest.approx((1800, 680))
    assert kind_polygons(Page(width=10, height=10))[1] == {"line": True, "word": True}
    assert kind_polygons(same)[1]["word"] is False  # a real page with lines but no word outlines
