"""Documents, not only pages: ``htr.read_document`` reads every page of a multi-page TIFF or PDF into a
``Document``; `htr page --pages` writes them as one searchable PDF. The inputs are made here from
examples/letter.jpg: its page, then its top half."""
from pathlib import Path

import pypdfium2
import pytest
from PIL import Image

import htr
from htr.cli import main
from htr.paths import REPO, WEIGHTS_DIR

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "det.pt").exists() or not (WEIGHTS_DIR / "rec.pt").exists(),
                                reason="htr/weights/det.pt and rec.pt are needed (htr train det / rec)")
LETTER = REPO / "examples" / "letter.jpg"
WORDS = set((REPO / "examples" / "letter.txt").read_text(encoding="utf-8").split())


@pytest.fixture(scope="module")
def two_pages(tmp_path_factory) -> Path:
    """two_pages.tif and two_pages.pdf (200 dpi: rendered back at the same size): the letter, then its top half."""
    root = tmp_path_factory.mktemp("documents")
    letter = Image.open(LETTER).convert("RGB")
    top = letter.crop((0, 0, letter.width, letter.height // 2))
    letter.copy().save(root / "two_pages.tif", save_all=True, append_images=[top.copy()])
    letter.copy().save(root / "two_pages.pdf", save_all=True, append_images=[top.copy()], resolution=200)
    return root


def known(text: str) -> float:
    """The share of the letter's words among those of ``text``."""
    words = text.split()
    return sum(w in WORDS for w in words) / max(len(words), 1)


def test_read_document_reads_a_two_page_tiff_into_two_pages(two_pages):
    document = htr.read_document(two_pages / "two_pages.tif")
    assert isinstance(document, htr.Document) and len(document) == 2 and document.source == "two_pages.tif"
    first, second = document.pages
    assert all(isinstance(page, htr.Page) for page in document)
    assert (first.width, first.height) == (694, 954) and (second.width, second.height) == (694, 477)
    assert known(first.text) > 0.6 and known(second.text) > 0.6
    assert 0 < len(second.lines) < len(first.lines)  # the top half: fewer lines, in page order
    assert document.text == first.text + "\f" + second.text
    assert htr.read_document(two_pages / "two_pages.tif", pages=[2]).pages[0].text == second.text


def test_page_writes_a_two_page_pdf_as_one_searchable_pdf(two_pages, tmp_path, capsys):
    out = tmp_path / "out.pdf"
    assert main(["page", str(two_pages / "two_pages.pdf"), "--out", "pdf", "--pages", "all", "-o", str(out)]) == 0
    pdf = pypdfium2.PdfDocument(out)
    try:
        assert len(pdf) == 2
        sizes = [pdf[i].get_size() for i in range(2)]
        assert sizes[0][0] == pytest.approx(sizes[1][0]) and sizes[0][1] == pytest.approx(2 * sizes[1][1], abs=1)
        texts = [pdf[i].get_textpage().get_text_range() for i in range(2)]
    finally:
        pdf.close()
    assert all(known(text) > 0.6 for text in texts), texts
    assert len(texts[1].split()) < len(texts[0].split())


def test_page_ranges_are_checked_before_reading(two_pages, capsys):
    scan = str(two_pages / "two_pages.pdf")
    assert main(["page", scan, "--pages", "2-3", "--out", "pdf", "-o", "never.pdf"]) == 1
    assert "no page 3 (the file has 2)" in capsys.readouterr().err
    assert main(["page", scan, "--pages", "1-2", "--out", "json"]) == 2  # one document per page: htr batch
    assert "--out pdf or text" in capsys.readouterr().err
    for bad in ("0", "2-1", "some"):
        with pytest.raises(SystemExit):
            main(["page", scan, "--pages", bad])
    assert not Path("never.pdf").exists()
