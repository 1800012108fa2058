"""Reading and writing pages in the standard formats: PAGE-XML, ALTO, hOCR, plain text and JSON, and writing
searchable PDF (one record each in ``htr.formats.registry``)."""
from __future__ import annotations

import os
from pathlib import Path

from htr.document import Page
from htr.errors import FormatError
from htr.files import atomic_write
from htr.formats.alto import read_alto, write_alto
from htr.formats.hocr import read_hocr, write_hocr
from htr.formats.jsonio import read_json, write_json
from htr.formats.pagexml import read_page_xml, write_page_xml
from htr.formats.pdf import write_pdf, write_pdf_pages
from htr.formats.registry import (DOCUMENT_SUFFIXES, FORMATS, READABLE, REGISTRY, Format, document_files,
                                  document_key, format_for_path, get_format)
from htr.formats.text import read_text, write_text
from htr.formats.xmlutil import local, parse_xml


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
    raw = path.read_bytes()
    if raw.startswith(b"%PDF-"):
        raise FormatError(f"{path}: a PDF is not a document htr reads (htr page and htr batch read it as page images)")
    try:
        data = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not UTF-8 text (is it an image?)") from err
    try:
        return parse_document(data, clip=clip)
    except FormatError as err:
        raise FormatError(f"{path}: {err}") from err


def parse_document(data: str, fmt: str | None = None, clip: bool = True) -> Page:
    """A Page from a document's text in the given format (sniffed when None)."""
    record = get_format(fmt or sniff_format(data))
    if record.read is None:
        raise FormatError(f"htr writes {record.title} but cannot read it")
    return record.read(data, clip)


def write_document(page: Page, fmt: str, image=None) -> str | bytes:
    """The page as a document in one of FORMATS (bytes for a binary format); ``image``: the page image (RGB),
    for the formats that need it."""
    record = get_format(fmt)
    if not record.needs_image:
        return record.write(page)
    if image is None:
        raise FormatError(f"writing {record.title} needs the page image")
    return record.write(page, image)


def save_document(page: Page, path: str | os.PathLike, fmt: str, image=None) -> None:
    """Write the page to ``path`` in format ``fmt``, whole or not at all (a temporary file renamed into place)."""
    atomic_write(path, write_document(page, fmt, image))


__all__ = ["FORMATS", "READABLE", "REGISTRY", "DOCUMENT_SUFFIXES", "Format", "get_format", "read_document",
           "parse_document", "write_document", "save_document", "sniff_format", "format_for_path", "document_key",
           "document_files",
           "read_page_xml", "write_page_xml", "read_alto", "write_alto", "read_hocr", "write_hocr", "read_json",
           "write_json", "read_text", "write_text", "write_pdf", "write_pdf_pages"]
