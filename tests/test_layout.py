"""Reading order of typical page layouts, built from line boxes."""
from htr.document import Line, box_polygon
from htr.layout import group_blocks, layout, row_order

H = 30  # line height, px


def line(text: str, x0: float, y0: float, x1: float) -> Line:
    return Line(polygon=box_polygon(x0, y0, x1, y0 + H), text=text)


def column(prefix: str, x0: float, x1: float, y0: float, n: int) -> list[Line]:
    return [line(f"{prefix}{i}", x0, y0 + i * 45, x1) for i in range(n)]


def read(lines: list[Line]) -> list[str]:
    return [ln.text for block in layout(lines) for ln in block.lines]


def test_two_columns_read_column_by_column():
    left, right = column("L", 100, 900, 200, 6), column("R", 1000, 1800, 200, 6)
    shuffled = [ln for pair in zip(right, left) for ln in pair]  # detector order: row by row
    assert read(shuffled) == [f"L{i}" for i in range(6)] + [f"R{i}" for i in range(6)]


def test_heading_spanning_columns_comes_first():
    heading = line("title", 300, 60, 1600)
    left, right = column("L", 100, 900, 200, 4), column("R", 1000, 1800, 200, 4)
    assert read(right + left + [heading]) == ["title"] + [f"L{i}" for i in range(4)] + [f"R{i}" for i in range(4)]


def test_marginal_note_read_beside_the_line_it_sits_next_to():
    """A note in the left margin is read before the line on its first row, one in the right margin after it."""
    note = column("note", 20, 220, 380, 3)  # on the row of B4
    right = column("right", 1900, 2100, 470, 2)  # on the row of B6
    body = column("B", 400, 1800, 200, 10)
    after = column("P", 400, 1800, 800, 3)  # the text goes on below the note's height
    assert read(note + right + body + after) == [f"B{i}" for i in range(4)] + ["note0", "note1", "note2"] + [
        f"B{i}" for i in range(4, 7)] + ["right0", "right1"] + [f"B{i}" for i in range(7, 10)] + [
        f"P{i}" for i in range(3)]


def test_folio_number_right_of_a_first_line_read_after_the_block():
    body = column("B", 400, 1800, 200, 10)
    assert read([line("154", 2300, 195, 2380), *body]) == [f"B{i}" for i in range(10)] + ["154"]


def test_right_aligned_date_and_signature_stay_in_place():
    date = line("date", 1300, 100, 1750)
    body = column("B", 150, 1750, 200, 5)
    signature = line("signature", 1200, 200 + 5 * 45 + 20, 1700)
    assert read([signature, *body, date]) == ["date"] + [f"B{i}" for i in range(5)] + ["signature"]


def test_address_and_date_on_one_row_read_left_to_right():
    assert row_order([line("date", 1300, 102, 1750), line("address", 150, 98, 600)]) == [1, 0]


def test_blocks_split_by_a_wide_vertical_gap_and_ids_follow_reading_order():
    top, bottom = column("A", 100, 1500, 100, 3), column("Z", 100, 1500, 900, 3)
    assert len(group_blocks(top + bottom)) == 2
    blocks = layout(bottom + top)
    assert [b.id for b in blocks] == ["b1", "b2"]
    assert [ln.id for b in blocks for ln in b.lines] == [f"l{i}" for i in range(1, 7)]
    assert [ln.text for ln in blocks[0].lines] == ["A0", "A1", "A2"]


def test_no_lines_no_blocks():
    assert layout([]) == []


def test_short_heading_inside_a_column_is_not_a_marginal_note():
    left = column("L", 100, 900, 200, 12)
    right = column("R", 1000, 1800, 200, 5) + [line("heading", 1000, 500, 1200)] + column("S", 1000, 1800, 600, 4)
    assert read(left + right) == [f"L{i}" for i in range(12)] + [f"R{i}" for i in range(5)] + ["heading"] + [
        f"S{i}" for i in range(4)]


def test_marginal_note_below_a_letterhead():
    head = line("letterhead", 20, 40, 1800)
    note = column("note", 20, 220, 400, 3)
    body = column("B", 400, 1800, 200, 10)
    assert read(body + note + [head]) == ["letterhead"] + [f"B{i}" for i in range(5)] + [
        "note0", "note1", "note2"] + [f"B{i}" for i in range(5, 10)]  # beside B5, its top a little above


def test_a_stamp_between_the_columns_does_not_join_them():
    left, right = column("L", 100, 900, 260, 8), column("R", 1000, 1800, 200, 8)
    stamp = [line("stamp", 850, 500, 1050), line("date", 860, 535, 1040)]
    order = read(right + stamp + left)
    assert [t for t in order if t[0] in "LR"] == [f"L{i}" for i in range(8)] + [f"R{i}" for i in range(8)]


def test_min_confidence_drops_unsure_lines_and_words(page):
    from htr.document import drop_unsure

    drop_unsure(page, 0.6)
    # "Sir," (0.5) and the 0.25 line go; a line without a confidence stays
    assert [ln.text for ln in page.lines] == ["Dear", "", "Yours truly"]
    assert [w.text for w in page.lines[0].words] == ["Dear"]
    drop_unsure(page, 0.995)
    assert [b.id for b in page.blocks] == ["b1"] and [ln.confidence for ln in page.lines] == [None]
