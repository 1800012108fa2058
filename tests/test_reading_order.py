"""The reading-order score (htr.reading_order) on constructed pages, and the layout's order on constructed pages
that it once read out of order."""
import pytest

from htr.document import Line, box_polygon
from htr.layout import layout
from htr.reading_order import OrderScore, concordant_pairs, longest_increasing, score_order

H = 30  # line height, px


def line(text: str, x0: float, y0: float, x1: float, h: float = H) -> Line:
    return Line(polygon=box_polygon(x0, y0, x1, y0 + h), text=text)


def column(prefix: str, x0: float, x1: float, y0: float, n: int, step: float = 45) -> list[Line]:
    return [line(f"{prefix}{i}", x0, y0 + i * step, x1) for i in range(n)]


def read(lines: list[Line]) -> list[str]:
    return [ln.text for block in layout(lines) for ln in block.lines]


# ------------------------------------------------------------------------------------------------ the score

def test_identical_order_scores_one_and_loses_nothing():
    gt = column("line ", 100, 1500, 100, 6)
    found = column("lime ", 100, 1500, 100, 6)  # misread, but in order
    s = score_order(found, gt)
    assert (s.order, s.moved, s.lines, s.pairs) == (1.0, 0.0, 6, 15)
    assert s.cer_lost == 0.0 and s.char_errors == 6


def test_a_swapped_pair_lowers_the_score_by_one_pair_and_one_line():
    gt = column("text of line ", 100, 1500, 100, 5)
    found = [gt[0], gt[2], gt[1], gt[3], gt[4]]
    s = score_order(found, gt)
    assert s.order == pytest.approx(1 - 1 / 10) and s.moved == pytest.approx(1 / 5)
    assert s.gt_order_errors == 0 and s.cer_lost == pytest.approx(s.char_errors / s.chars) and s.cer_lost > 0


def test_a_line_moved_from_first_to_last_inverts_every_pair_it_is_in():
    gt = column("text of line ", 100, 1500, 100, 6)
    s = score_order(gt[1:] + gt[:1], gt)
    assert s.order == pytest.approx(1 - 5 / 15) and s.moved == pytest.approx(1 / 6)


def test_a_line_found_in_two_pieces_is_in_order_left_to_right():
    gt = [line("March 20, 1805.", 100, 100, 900), *column("body ", 100, 900, 200, 3)]
    left, right = line("March 20,", 100, 100, 600), line("1805.", 650, 100, 900)
    assert score_order([left, right, *gt[1:]], gt).order == 1.0
    wrong = score_order([right, *gt[1:], left], gt)
    assert wrong.order < 1.0 and wrong.gt_order_errors == 0 and wrong.cer_lost > 0


def test_unmatched_lines_keep_their_place_and_count_only_in_the_text():
    gt = column("text of line ", 100, 1500, 100, 3)
    stamp = line("STAMP", 1700, 1000, 1900)  # no ground-truth line there
    s = score_order([gt[0], gt[1], stamp, gt[2]], gt)
    assert (s.lines, s.order, s.moved) == (3, 1.0, 0.0)
    assert s.cer_lost == 0.0 and s.char_errors > 0


def test_scores_add_up_over_pages():
    gt = column("text of line ", 100, 1500, 100, 4)
    a, b = score_order(gt, gt), score_order([gt[1], gt[0], gt[2], gt[3]], gt)
    total = sum([a, b], OrderScore())
    assert (total.pairs, total.concordant, total.lines) == (12, 11, 8) and total.order == pytest.approx(11 / 12)


def test_pair_and_run_counts():
    assert concordant_pairs([1, 2, 3]) == (3, 3) and concordant_pairs([3, 2, 1]) == (3, 0)
    assert longest_increasing([5, 1, 2, 9, 3, 4]) == 4 and longest_increasing([]) == 0
    assert OrderScore().order == 1.0 and OrderScore().moved == 0.0


# ------------------------------------------------------------------------------------------------ layout fixes

def test_stacked_lines_whose_boxes_overlap_are_not_one_row():
    """Typed list entries with tall boxes (pitch under the box height): the less indented one is not read first."""
    entries = [line(f"entry {i}", 120 - 10 * (i % 2), 100 + 30 * i, 1500, h=70) for i in range(6)]
    assert read(entries[::-1]) == [f"entry {i}" for i in range(6)]
    s = score_order([ln for b in layout(entries) for ln in b.lines], entries)
    assert s.order == 1.0


def test_a_short_line_inside_a_block_is_read_in_place():
    """A salutation left of the body, cut off from it, sits inside the block's box: read in place, not after."""
    letterhead = line("letterhead", 60, 20, 900)
    address = column("A", 300, 700, 70, 4)
    sir = line("Sir,", 70, 245, 125, h=23)
    body = [line("B0", 150, 262, 1000), line("B1", 110, 300, 1000)]  # B0 joins the address's block
    assert read([*body, sir, *address, letterhead]) == ["letterhead", "A0", "A1", "A2", "A3", "Sir,", "B0", "B1"]


def test_pieces_of_one_row_in_separate_blocks_read_left_to_right():
    """A date at the top right found in two pieces, the right one a little higher: left piece first."""
    date = [line("1805.", 1520, 96, 1650), line("March 20,", 1200, 104, 1500)]
    body = column("B", 150, 1750, 250, 4)
    assert read([*body, *date]) == ["March 20,", "1805.", "B0", "B1", "B2", "B3"]
    name = [line("TOUSSAINT", 1367, 557, 1948, h=100), line("Franz", 1152, 582, 1328, h=50)]
    assert read(name) == ["Franz", "TOUSSAINT"]


def test_a_number_left_of_its_entry_is_read_first():
    """A register: the entry's number, a separate block, on the row of the entry's first line."""
    heading = line("heading", 300, 40, 900)
    entries = column("E", 200, 1500, 200, 3)
    number = line("17.", 60, 205, 150)
    assert read([*entries, number, heading]) == ["heading", "17.", "E0", "E1", "E2"]


def test_two_pages_with_a_narrow_gutter_read_left_page_first():
    """A double-page scan whose gutter is narrower than half a line: the left page (a heading and two
    paragraphs), then the right (one block), though the right page starts higher."""
    left = [line("L head", 1060, 340, 2350, h=150)] + [
        line(f"L{i}", 620, 700 + 200 * i + 200 * (i > 2), 2870, h=150) for i in range(6)]
    right = [line("R head", 3500, 300, 4800, h=150)] + [line(f"R{i}", 2920, 500 + 200 * i, 5400, h=150)
                                                       for i in range(7)]
    order = read(right + left)
    assert order == [ln.text for ln in left + right]
