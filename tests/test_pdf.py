"""Searchable PDF (htr.formats.pdf): the scan under an invisible text layer, read back with pypdfium2."""
import subprocess
import sys

import numpy as np
import pypdfium2
import pytest

from htr.document import Line, Word, box_polygon
from htr.errors import FormatError, UsageError
from htr.formats import read_document, save_document, write_document, write_pdf, write_pdf_pages
from htr.paths import REPO, WEIGHTS_DIR
from tests.conftest import make_page

DPI = 300


def normalised(text: str) -> str:
    return " ".join(text.split())


def with_long_s(page):
    """The fixture page with a line of words outside Latin-1 (and one beyond the BMP) added."""
    words = [Word(box_polygon(100, 320, 140, 360), "ſo"), Word(box_polygon(150, 320, 230, 360), "œuvre"),
             Word(box_polygon(240, 322, 330, 358), "Größe𝔄")]
    page.blocks[0].lines.append(Line(box_polygon(100, 320, 330, 360), "ſo œuvre Größe𝔄", words=words))
    return page


def read_back(data: bytes):
    """[(text, [(x0, y0, x1, y1) in pixels, y down, of each character of text])] for each page of a PDF."""
    pdf = pypdfium2.PdfDocument(data)
    pages = []
    for number in range(len(pdf)):
        page = pdf[number]
        text_page = page.get_textpage()
        text = text_page.get_text_range()
        units = np.cumsum([0] + [1 + (ord(c) > 0xFFFF) for c in text])  # pdfium counts UTF-16 code units
        assert units[-1] == text_page.count_chars()
        k, height = DPI / 72, page.get_height()
        boxes = []
        for i in units[:-1]:
            left, bottom, right, top = text_page.get_charbox(int(i))
            boxes.append((left * k, (height - top) * k, right * k, (height - bottom) * k))
        pages.append((text, boxes))
    return pages


def pieces(page):
    """(text, pixel bbox) of what the PDF places: each word, and each line without words."""
    for line in page.lines:
        yield from ((w.text, w.bbox) for w in line.words) if line.words else [(line.text, line.bbox)] * bool(line.text)


def turned(page, turns: int):
    """The page as read from a scan that was turned ``turns`` quarter turns clockwise (the reader turned it back
    counter-clockwise): coordinates in that scan's pixels, the text unchanged."""
    from htr.orientation import unrotate_points

    width, height = (page.height, page.width) if turns % 2 else (page.width, page.height)
    for shape in page.elements():
        shape.polygon = unrotate_points(shape.polygon, turns, width, height)
    page.width, page.height, page.rotation = width, height, 90 * turns
    return page


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_text_layer_holds_every_word_on_its_box(page, turns):
    page = turned(with_long_s(page), turns)  # the text upright in the page's reading frame, the boxes the scan's
    data = write_pdf(page, np.full((page.height, page.width, 3), 255, np.uint8))
    [(text, boxes)] = read_back(data)
    if turns == 0:
        assert normalised(text) == normalised(page.text)
    else:  # pdfium orders turned lines by their place on the page, not as written
        assert sorted(text.split()) == sorted(page.text.split())
    assert "façade" in text and "Größe𝔄" in text and "£3" in text and "ſo" in text
    for word, (x0, y0, x1, y1) in pieces(page):  # each one once on the page
        start = text.index(word)
        chars = np.array(boxes[start:start + len(word)])
        found = chars[:, :2].min(0).tolist() + chars[:, 2:].max(0).tolist()
        assert found == pytest.approx([x0, y0, x1, y1], abs=2), word
        first_to_last = (chars[-1, :2] + chars[-1, 2:] - chars[0, :2] - chars[0, 2:]) / 2
        assert np.sign(first_to_last.round()).tolist() == [[1, 0], [0, 1], [-1, 0], [0, -1]][turns], word


def test_the_scan_is_the_page_and_the_text_invisible(page):
    image = np.full((1400, 1000, 3), 255, np.uint8)
    image[100:140, 110:190] = (200, 30, 30)
    data = write_document(page, "pdf", image)
    assert b"/DCTDecode" in data  # the scan as JPEG
    pdf = pypdfium2.PdfDocument(data)
    assert pdf[0].get_size() == pytest.approx((1000 * 72 / DPI, 1400 * 72 / DPI))
    shown = pdf[0].render(scale=DPI / 72).to_numpy()[:1400, :1000, :3].astype(int)
    assert shown.shape == image.shape and np.abs(shown - image).mean() < 1  # the words are not drawn


def test_several_pages_in_one_pdf(page):
    small = np.full((700, 500, 3), 255, np.uint8)  # page coordinates scaled to the image; a grey scan
    pairs = [(page, np.full((1400, 1000, 3), 255, np.uint8)), (page, small), (with_long_s(make_page()), small[..., 0])]
    pdf = pypdfium2.PdfDocument(write_pdf_pages(pairs, dpi=150))
    assert len(pdf) == 3
    assert [pdf[i].get_size() for i in range(3)] == [(480, 672), (240, 336), (240, 336)]
    texts = [normalised(pdf[i].get_textpage().get_text_range()) for i in range(3)]
    assert texts[0] == texts[1] == normalised(page.text) and texts[2] == normalised(with_long_s(make_page()).text)


def test_a_pdf_needs_the_image_and_is_not_read_as_a_document(page, tmp_path):
    with pytest.raises(FormatError, match="needs the page image"):
        write_document(page, "pdf")
    save_document(page, tmp_path / "scan.pdf", "pdf", np.full((1400, 1000, 3), 255, np.uint8))
    with pytest.raises(FormatError, match="not a document htr reads"):
        read_document(tmp_path / "scan.pdf")
    from htr.formats import document_files, format_for_path

    assert format_for_path("scan.pdf") == "pdf" and document_files(tmp_path) == {}


def test_pdf_goes_to_stdout_but_not_to_a_terminal(monkeypatch, capsysbinary, tmp_path, page):
    from htr.cli import main
    from htr.cli.options import write_stdout

    write_stdout(b"%PDF-1.4 ...")
    assert capsysbinary.readouterr().out == b"%PDF-1.4 ..."
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with pytest.raises(UsageError, match="terminal"):
        write_stdout(b"%PDF-1.4 ...")
    save_document(page, tmp_path / "page.xml", "page")
    assert main(["convert", str(tmp_path / "page.xml"), str(tmp_path / "page.pdf")]) == 1
    assert "needs the page image" in capsysbinary.readouterr().err.decode()


@pytest.mark.skipif(not (WEIGHTS_DIR / "det.pt").exists() or not (WEIGHTS_DIR / "rec.pt").exists(),
                    reason="htr/weights/det.pt and rec.pt are needed (htr train det / rec)")
def test_htr_page_writes_a_searchable_pdf(tmp_path):
    scan = REPO / "examples" / "letter.jpg"
    htr = [sys.executable, "-m", "htr.cli", "page", str(scan), "--threads", "2", "--out"]
    made = subprocess.run([*htr, "pdf", "-o", str(tmp_path / "out.pdf")], capture_output=True, timeout=300)
    assert made.returncode == 0, made.stderr.decode()
    text = subprocess.run([*htr, "text"], capture_output=True, text=True, timeout=300)
    assert text.returncode == 0, text.stderr
    from htr.imageio import load_image

    height, width = load_image(scan).shape[:2]
    pdf = pypdfium2.PdfDocument(tmp_path / "out.pdf")
    assert len(pdf) == 1 and pdf[0].get_size() == pytest.approx((width * 72 / DPI, height * 72 / DPI), abs=0.01)
    found = normalised(pdf[0].get_textpage().get_text_range())
    assert found and found == normalised(text.stdout)
