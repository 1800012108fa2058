"""Searchable PDF: each page scan as the page's image (JPEG) under an invisible text layer (render mode 3) that
puts every word on its box, so that a PDF viewer's search and selection find the words where they are on the
scan. Written with fpdf2; htr does not read PDFs as documents (``htr page`` and ``htr batch`` read them as
page images).

The text layer needs no system font: its font is built here with fontTools (which fpdf2 depends on), a glyph
for each character of the text, all alike (the glyph cell's rectangle, never drawn in render mode 3), like
Tesseract's "glyphless" font. So any Unicode text (ſ, ß, œ, £, Greek, ...) is kept exactly and the PDF's
ToUnicode map gives it back to text extraction; the scan, not the font, is what a reader sees. The PDF page is
the image's size at ``dpi`` (300 where nothing tells it)."""
from __future__ import annotations

import io
import tempfile
import unicodedata
from pathlib import Path

import numpy as np

from htr.document import Page

DPI = 300  # the scan's resolution, pixels per inch, where nothing tells it
JPEG_QUALITY = 85
UNITS, ADVANCE, DESCENT = 1000, 500, 200  # the font's em, every glyph's width and its descent, in font units


def write_pdf(page: Page, image: np.ndarray, dpi: float = DPI) -> bytes:
    """One page (``image``: its scan, RGB H x W x 3 uint8) as a searchable PDF."""
    return write_pdf_pages([(page, image)], dpi)


def write_pdf_pages(pairs, dpi: float = DPI) -> bytes:
    """One searchable PDF from (page, image) pairs, a PDF page for each; each PDF page is its image's size at
    ``dpi`` (points = pixels * 72 / dpi)."""
    from fpdf import FPDF
    from fpdf.enums import TextMode

    pairs = list(pairs)
    pdf = FPDF(unit="pt")
    pdf.set_creator("htr")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    chars = {c for page, _ in pairs for _, text in _pieces(page)[0] for c in text}
    with tempfile.TemporaryDirectory(prefix="htr-pdf-") as folder:
        font = Path(folder) / "glyphless.ttf"
        _glyphless_font(chars).save(font)
        pdf.add_font("glyphless", fname=str(font))
        for page, image in pairs:
            rgb = _rgb(image)
            height, width = rgb.shape[:2]
            k = 72 / dpi  # points per pixel
            pdf.add_page(format=(width * k, height * k))
            pdf.image(_jpeg(rgb), x=0, y=0, w=width * k, h=height * k)
            pdf.text_mode = TextMode.INVISIBLE
            pieces, turns = _pieces(page)
            scale = np.array([width / page.width if page.width else 1, height / page.height if page.height else 1])
            for box, text in pieces:
                _place(pdf, box * scale * k, text, turns, (width * k, height * k))
        return bytes(pdf.output())


def _pieces(page: Page) -> tuple[list[tuple[np.ndarray, str]], int]:
    """(pixel polygon, text) to place, in reading order: each word with a space after it but the line's last,
    a line without words whole; and the page's quarter turns."""
    pieces = []
    for line in page.lines:
        words = [(w.polygon, _clean(w.text)) for w in line.words if _clean(w.text)]
        if not words and _clean(line.text) and len(line.polygon):
            words = [(line.polygon, _clean(line.text))]
        pieces += [(poly, text + (" " if i < len(words) - 1 else "")) for i, (poly, text) in enumerate(words)
                   if len(poly)]
    return pieces, (page.rotation // 90) % 4


def _clean(text: str) -> str:
    """The text with its whitespace runs made single spaces and control characters dropped."""
    return " ".join("".join(c for c in text if unicodedata.category(c) != "Cc" or c.isspace()).split())


def _place(pdf, polygon: np.ndarray, text: str, turns: int, size: tuple[float, float]) -> None:
    """The text on the polygon's box (points, y down), upright in the page's reading frame (the scan turned
    counter-clockwise by ``turns`` quarter turns): its font size from the box height, stretched to its width."""
    w, h = size
    x, y = polygon[:, 0], polygon[:, 1]
    # the polygon in the reading frame, and back: reading (u, v) -> scan point
    frame = {0: (x, y), 1: (y, w - x), 2: (w - x, h - y), 3: (h - y, x)}[turns]
    back = {0: lambda u, v: (u, v), 1: lambda u, v: (w - v, u), 2: lambda u, v: (w - u, h - v),
            3: lambda u, v: (v, h - u)}[turns]
    u0, v0, u1, v1 = frame[0].min(), frame[1].min(), frame[0].max(), frame[1].max()
    size_pt = max(v1 - v0, 0.5)
    glyphs = len(text.rstrip(" ")) or 1  # the box holds the word; its trailing space goes past it
    pdf.set_font("glyphless", size=size_pt)
    pdf.set_stretching(100 * max(u1 - u0, 0.5) / (glyphs * size_pt * ADVANCE / UNITS))
    ox, oy = back(u0, v1 - size_pt * DESCENT / UNITS)  # the start of the baseline
    with pdf.rotation(-90 * turns, ox, oy):
        pdf.text(ox, oy, text)


def _glyphless_font(chars):
    """A TrueType font with one glyph, ADVANCE wide, for the space and each of ``chars``: the glyph cell's
    rectangle, never drawn (render mode 3), as outline; pdfium drops the characters of outline-less glyphs
    from a quarter-turned text layer."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    codes = sorted({ord(c) for c in chars} | {0x20})
    names = [".notdef"] + [f"u{code:04X}" for code in codes]
    pen = TTGlyphPen(None)
    pen.moveTo((0, -DESCENT))
    for point in ((ADVANCE, -DESCENT), (ADVANCE, UNITS - DESCENT), (0, UNITS - DESCENT)):
        pen.lineTo(point)
    pen.closePath()
    cell = pen.glyph()
    builder = FontBuilder(UNITS, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap(dict(zip(codes, names[1:])))
    builder.setupGlyf({name: cell for name in names})
    builder.setupHorizontalMetrics({name: (ADVANCE, 0) for name in names})
    builder.setupHorizontalHeader(ascent=UNITS - DESCENT, descent=-DESCENT)
    builder.setupNameTable({"familyName": "GlyphLess", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=UNITS - DESCENT, sTypoDescender=-DESCENT, usWinAscent=UNITS - DESCENT,
                     usWinDescent=DESCENT, sCapHeight=UNITS - DESCENT, sxHeight=UNITS // 2)
    builder.setupPost(keepGlyphNames=False)
    return builder.font


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8, copy=False))


def _jpeg(rgb: np.ndarray) -> io.BytesIO:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=JPEG_QUALITY)
    buffer.seek(0)
    return buffer
