"""OCR-D's PAGE validator (strict TextEquiv consistency, coordinates of every element inside its parent's) on
htr's PAGE output of the example pages and of real dev pages. Needs the `validate` extra (`pip install -e
".[validate]"`: the `ocrd` package)."""
import pytest

from htr.document import Block, Line, Page, Word, box_polygon, nest_shapes
from htr.formats import write_document
from htr.paths import REPO, WEIGHTS_DIR
from tests.shared import shared_path

PageValidator = pytest.importorskip(
    "ocrd_validators", reason="the OCR-D validator is a test extra: pip install -e '.[validate]'").PageValidator

EXAMPLES = sorted((REPO / "examples").glob("*.gt.xml"))
DEV_PAGES = 10
needs_weights = pytest.mark.skipif(not (WEIGHTS_DIR / "det.pt").exists() or not (WEIGHTS_DIR / "rec.pt").exists(),
                                   reason="htr/weights/det.pt and rec.pt are needed (htr train det / rec)")


def errors(page: Page, tmp_path) -> list[str]:
    """The validator's complaints about the page's PAGE-XML."""
    path = tmp_path / "page.xml"
    path.write_text(write_document(page, "page"), encoding="utf-8")
    return [str(e) for e in PageValidator.validate(filename=str(path)).errors]


@pytest.fixture(scope="module")
def reader():
    from htr.pipeline import Reader

    return Reader()


def test_words_are_clipped_to_their_line_and_text_is_consistent(tmp_path):
    word_out = Word(box_polygon(90, 5, 160, 60), "sticks")   # out of its line at the top, bottom and left
    word_gone = Word(box_polygon(500, 0, 520, 30), "gone")   # beside its line altogether
    line = Line(box_polygon(100, 10, 400, 50), "sticks gone", words=[word_out, word_gone])
    page = Page(1000, 1000, [Block(box_polygon(100, 10, 400, 50), [line, Line(box_polygon(120, 60, 300, 90))])])
    nest_shapes(page)
    assert errors(page, tmp_path) == []
    assert word_out.bbox == pytest.approx((101, 11, 160, 49))
    x0, y0, x1, y1 = word_gone.bbox
    assert 100 <= x0 < x1 <= 400 and 10 <= y0 < y1 <= 50  # a tiny box inside the line, where it was nearest
    assert x1 == pytest.approx(399)


@needs_weights
@pytest.mark.parametrize("gt", EXAMPLES, ids=lambda p: p.name.split(".")[0])
def test_example_pages_pass_the_ocrd_validator(reader, gt, tmp_path):
    image = gt.with_name(gt.name.replace(".gt.xml", ".jpg"))
    assert errors(reader.read(image), tmp_path) == []
    assert errors(reader.read(image, lines=gt), tmp_path) == []  # the lines of a segmentation, read


@pytest.mark.shared
@needs_weights
def test_dev_pages_pass_the_ocrd_validator(reader, tmp_path):
    images = sorted(shared_path("data", "hooker", "dev").glob("*.jpg"))[:DEV_PAGES]
    found = {image.name: errors(reader.read(image), tmp_path) for image in images}
    assert len(found) == DEV_PAGES and {name: e[:3] for name, e in found.items() if e} == {}
