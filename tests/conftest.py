import numpy as np
import pytest

from htr.document import Block, Line, Page, Word, box_polygon


def make_page() -> Page:
    """A small page that exercises every field: kinds, baselines, words, confidences and awkward text."""
    words = [Word(box_polygon(110, 100, 190, 140), "Dear", 0.93, "w1"),
             Word(np.array([[200, 98], [300, 102], [298, 141], [201, 139]]), "Sir,", 0.5, "w2")]
    return Page(width=1000, height=1400, source="letter 1.jpg", blocks=[
        Block(box_polygon(100, 90, 900, 300), id="b1", kind="paragraph", lines=[
            Line(np.array([[105, 95], [305, 97], [303, 145], [104, 143]]), "Dear Sir,", 0.71,
                 baseline=np.array([[110, 135], [300, 138]]), words=words, id="l1", kind="DefaultLine"),
            Line(box_polygon(100, 160, 880, 210), "Prices: 5 < 6 & £3 \"façade\" — Größe, año", 0.25,
                 baseline=np.array([[100, 200], [500, 204], [880, 201]]), id="l2"),
            Line(box_polygon(100.5, 220.25, 700, 260), "", None, id="9bad id"),
        ]),
        Block(box_polygon(600, 1200, 950, 1300), id="b2", kind="MarginTextZone", lines=[
            Line(box_polygon(610, 1210, 940, 1290), "Yours truly", 0.99, kind="HeadingLine"),
        ]),
    ])


@pytest.fixture
def page() -> Page:
    return make_page()


def pytest_runtest_setup(item):
    """Tests marked ``shared`` skip, with the reason, where ../shared (or $HTR_SHARED) is absent."""
    if item.get_closest_marker("shared"):
        from tests.shared import SHARED

        if not (SHARED / "data").is_dir():
            pytest.skip(f"{SHARED / 'data'} not found (set HTR_SHARED to the folder holding data/ and schemas/)")
