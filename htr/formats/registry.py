"""The document formats htr reads and writes, one record each: its name, the suffix of the files htr writes,
its reader and writer. Every suffix table (``htr convert``, ``htr page``, ``htr batch``, finding documents in
a folder) comes from here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from htr.document import Page
from htr.errors import FormatError
from htr.formats.alto import read_alto, write_alto
from htr.formats.hocr import read_hocr, write_hocr
from htr.formats.jsonio import read_json, write_json
from htr.formats.pagexml import read_page_xml, write_page_xml
from htr.formats.pdf import write_pdf
from htr.formats.text import read_text, write_text


@dataclass(frozen=True)
class Format:
    name: str  # what --to, --out and --formats take
    suffix: str  # the suffix of the files htr writes: KEY + suffix
    title: str  # what it is, for help texts
    read: Callable[[str, bool], Page] | None  # (document text, clip polygons into the page) -> Page; None: write only
    write: Callable[..., str | bytes]  # Page (and the page image when needs_image) -> the document
    binary: bool = False  # write returns bytes, not text
    needs_image: bool = False  # write takes the page image as its second argument
    also: tuple[str, ...] = ()  # other suffixes that name the format


def _xml(read):  # ElementTree refuses str input that carries an encoding declaration
    return lambda data, clip: read(data.encode("utf-8"), clip=clip)


def _plain(read):
    return lambda data, clip: read(data)


REGISTRY: dict[str, Format] = {f.name: f for f in (
    Format("page", ".page.xml", "PAGE-XML 2019", _xml(read_page_xml), write_page_xml, also=(".pagexml.xml",)),
    Format("alto", ".alto.xml", "ALTO v4", _xml(read_alto), write_alto, also=(".alto",)),
    Format("hocr", ".hocr", "hOCR", _plain(read_hocr), write_hocr, also=(".html", ".htm", ".xhtml")),
    Format("text", ".txt", "plain text", _plain(read_text), write_text),
    Format("json", ".json", "htr JSON", _plain(read_json), write_json),
    Format("pdf", ".pdf", "searchable PDF", None, write_pdf, binary=True, needs_image=True),
)}
FORMATS = tuple(REGISTRY)
ALIASES = {"txt": "text"}  # other names a user may type for a format


def format_name(text: str) -> str:
    """The format a user's name means: one of FORMATS, or an alias of one (``txt``: ``text``); as it is when
    neither (the caller's check refuses it)."""
    name = text.strip().lower()
    return ALIASES.get(name, name)
READABLE = tuple(name for name, f in REGISTRY.items() if f.read)  # a .pdf is a page image to htr, not a document
# Every suffix that names a format, longest first (".page.xml" before ".xml"); a plain .xml names none.
_NAMED = sorted(((s, f.name) for f in REGISTRY.values() for s in (f.suffix, *f.also)), key=lambda sf: -len(sf[0]))
# What a folder's documents end with: the suffixes of the formats htr reads
DOCUMENT_SUFFIXES = tuple(dict.fromkeys([s for s, fmt in _NAMED if fmt in READABLE] + [".xml"]))


def get_format(name: str) -> Format:
    name = format_name(name)
    if name not in REGISTRY:
        raise FormatError(f"unknown format {name!r}; one of {', '.join(FORMATS)}")
    return REGISTRY[name]


def format_for_path(path: str | Path) -> str | None:
    """The format a file name asks for (to write; "pdf" for a .pdf), or None where it does not say (a plain .xml)."""
    name = Path(path).name.lower()
    return next((fmt for suffix, fmt in _NAMED if name.endswith(suffix)), None)


def document_key(path: Path) -> str:
    """A document's name without its format suffixes, to match predictions with ground truth."""
    lowered = path.name.lower()
    suffix = next((s for s in DOCUMENT_SUFFIXES if lowered.endswith(s)), None)
    return path.name[: -len(suffix)] if suffix else path.stem


def document_files(folder: Path) -> dict[str, Path]:
    """The documents of a folder (recursive), keyed by document_key; the first of equal keys wins."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name.lower().endswith(DOCUMENT_SUFFIXES):
            found.setdefault(document_key(path), path)
    return found
