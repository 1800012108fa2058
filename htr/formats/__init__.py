"""Reading and writing pages in the standard formats: PAGE-XML, ALTO, hOCR, plain text and JSON."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from htr.document import Block, Line, Page
from htr.errors import FormatError
from htr.formats.alto import read_alto, write_alto
from htr.formats.hocr import read_hocr, write_hocr
from htr.formats.jsonio import read_json, write_json
from htr.formats.pagexml import read_page_xml, write_page_xml
from htr.formats.xmlutil import local, parse_xml

FORMATS = ("page", "alto", "hocr", "text", "json")
_SUFFIXES = {".hocr": "hocr", ".html": "hocr", ".htm": "hocr", ".xhtml": "hocr", ".txt": "text",
             ".json": "json", ".alto": "alto"}
# Double suffixes that say which XML dialect a .xml file holds.
_XML_SUFFIXES = {".page.xml": "page", ".alto.xml": "alto", ".pagexml.xml": "page"}
EXTENSIONS = {"page": ".xml", "alto": ".xml", "hocr": ".hocr", "text": ".txt", "json": ".json"}


def write_text(page: Page) -> str:
    text = page.text
    return text + "\n" if text else ""


def read_text(text: str) -> Page:
    """Plain text: paragraphs (separated by blank lines) become blocks, each line a line; no geometry."""
    empty = np.zeros((0, 2), np.float32)
    blocks = []
    for paragraph in text.replace("\r\n", "\n").split("\n\n"):
        lines = [Line(polygon=empty, text=t.strip()) for t in paragraph.split("\n") if t.strip()]
        if lines:
            blocks.append(Block(polygon=empty, lines=lines))
    return Page(width=0, height=0, blocks=blocks)


def format_for_path(path: str | Path) -> str | None:
    """The output format a file name asks for, or None where it does not say (a plain .xml)."""
    name = Path(path).name.lower()
    for suffix, fmt in _XML_SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return _SUFFIXES.get(Path(name).suffix)


def sniff_format(data: str) -> str:
    """The format of a document's text, from its content."""
    head = data.lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        return "json"
    if head.startswith("<"):
        lowered = head[:4096].lower()
        if "<html" in lowered or "<!doctype html" in lowered:
            return "hocr"
        root = parse_xml(data)
        name = local(root.tag)
        if name == "PcGts":
            return "page"
        if name == "alto":
            return "alto"
        raise FormatError(f"unknown XML document: root element <{name}> is neither PAGE (PcGts) nor ALTO (alto)")
    return "text"


def read_document(path: str | Path, clip: bool = True) -> Page:
    """A Page from a PAGE-XML, ALTO, hOCR, JSON or plain-text file (the format is read from the content);
    ``clip``: PAGE and ALTO polygons clipped into the page's declared size."""
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file")
    if path.is_dir():
        raise FormatError(f"{path}: is a directory, not a document")
    try:
        data = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text (is it an image?)") from err
    try:
        return parse_document(data, clip=clip)
    except FormatError as err:
        raise FormatError(f"{path}: {err}") from err


def parse_document(data: str, fmt: str | None = None, clip: bool = True) -> Page:
    """A Page from a document's text in the given format (sniffed when None)."""
    fmt = fmt or sniff_format(data)
    readers = {"page": read_page_xml, "alto": read_alto, "hocr": read_hocr, "json": read_json, "text": read_text}
    if fmt not in readers:
        raise FormatError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt in ("page", "alto"):
        data = data.encode("utf-8")  # ElementTree refuses str input that carries an encoding declaration
        return readers[fmt](data, clip=clip)
    return readers[fmt](data)


def write_document(page: Page, fmt: str) -> str:
    """The page as text in one of FORMATS."""
    writers = {"page": write_page_xml, "alto": write_alto, "hocr": write_hocr, "json": write_json,
               "text": write_text}
    if fmt not in writers:
        raise FormatError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return writers[fmt](page)


__all__ = ["FORMATS", "EXTENSIONS", "read_document", "parse_document", "write_document", "sniff_format",
           "format_for_path", "read_page_xml", "write_page_xml", "read_alto", "write_alto", "read_hocr",
           "write_hocr", "read_json", "write_json", "read_text", "write_text"]
