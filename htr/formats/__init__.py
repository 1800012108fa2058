"""Reading and writing pages in the standard formats: PAGE-XML, ALTO, hOCR, plain text and JSON, and writing
searchable PDF (one record each in ``htr.formats.registry``)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from htr.document import Page, bbox_of
from htr.errors import FormatError, one_line
from htr.files import atomic_write
from htr.formats.alto import read_alto, write_alto
from htr.formats.hocr import read_hocr, write_hocr
from htr.formats.jsonio import read_json, write_json
from htr.formats.pagexml import read_page_xml, write_page_xml
from htr.formats.pdf import write_pdf, write_pdf_pages
from htr.formats.registry import (ALIASES, DOCUMENT_SUFFIXES, FORMATS, READABLE, REGISTRY, Format, document_files,
                                  document_key, format_for_path, format_name, get_format)
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


SEGMENTATIONS = ("page", "alto", "hocr", "json")  # the formats that carry line outlines (htr page --lines)


def read_document(path: str | Path, clip: bool = True, formats: tuple[str, ...] | None = None) -> Page:
    """A Page from a PAGE-XML, ALTO, hOCR, JSON or plain-text file (the format is read from the content);
    ``clip``: PAGE and ALTO polygons clipped into the page's declared size; ``formats``: the formats taken
    (FormatError for another)."""
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
        return parse_document(data, clip=clip, formats=formats)
    except FormatError as err:
        raise FormatError(f"{path}: {err}") from err


MAX_OUTLINE_POINTS = 2000  # a segmentation's outlines are simplified to at most this many points


def read_segmentation(path: str | Path) -> Page:
    """The lines of a segmentation to read instead of detecting them (``htr page --lines``): a PAGE-XML, ALTO,
    hOCR or htr JSON file (FormatError for another). Outlines a hostile or broken file holds, which cropping
    and nesting would take minutes over, are made usable (``usable_outline``)."""
    page = read_document(path, formats=SEGMENTATIONS)
    for element in page.elements():
        element.polygon = usable_outline(element.polygon)
    return page


def usable_outline(polygon: np.ndarray, ratio: float = 16.0, most: int = MAX_OUTLINE_POINTS) -> np.ndarray:
    """The polygon as it is, but a tangle (its outline over ``ratio`` times its box's half perimeter; a
    rectangle's is 2) as its convex hull, and one of over ``most`` points simplified to at most that many
    (within half a pixel where that suffices)."""
    import cv2

    if len(polygon) < 4:
        return polygon
    x0, y0, x1, y1 = bbox_of(polygon)
    if cv2.arcLength(polygon, True) > ratio * max(x1 - x0 + y1 - y0, 1.0):
        polygon = cv2.convexHull(polygon).reshape(-1, 2).astype(np.float32)
    tolerance = 0.5
    while len(polygon) > most:
        polygon = cv2.approxPolyDP(polygon, tolerance, True).reshape(-1, 2).astype(np.float32)
        tolerance *= 2
    return polygon


def parse_document(data: str, fmt: str | None = None, clip: bool = True,
                   formats: tuple[str, ...] | None = None) -> Page:
    """A Page from a document's text in the given format (sniffed when None); ``formats``: those taken."""
    record = get_format(fmt or sniff_format(data))
    if formats and record.name not in formats:
        titles = [REGISTRY[f].title for f in formats]
        raise FormatError(f"{record.title}, not {', '.join(titles[:-1])} or {titles[-1]}")
    if record.read is None:
        raise FormatError(f"htr writes {record.title} but cannot read it")
    try:
        return record.read(data, clip)
    except FormatError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as err:  # what a reader did not foresee
        raise FormatError(f"cannot read it as {record.title} ({one_line(err)})") from err


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


__all__ = ["SEGMENTATIONS", "read_segmentation", "FORMATS", "READABLE", "REGISTRY", "DOCUMENT_SUFFIXES", "Format", "get_format", "format_name", "ALIASES", "read_document",
           "parse_document", "write_document", "save_document", "sniff_format", "format_for_path", "document_key",
           "document_files",
           "read_page_xml", "write_page_xml", "read_alto", "write_alto", "read_hocr", "write_hocr", "read_json",
           "write_json", "read_text", "write_text", "write_pdf", "write_pdf_pages"]
