"""The pages `htr view` serves: found in the folders and files given, read on first view, saved as PAGE-XML
2019 with the lines a person checked marked, exported as training ground truth.

A page is a scan (an image, or a page of a PDF or multi-page TIFF) and the result it is read from (PAGE-XML,
ALTO or htr JSON, found beside the scan, or under the same key in another folder given, as `htr batch` writes
them). Its id is its key: its path under the folder given, without the suffix (``_p0001``... for the pages of a
PDF or multi-page TIFF, as `htr batch` names them).

A page without a result is read on first view into htr's cache ($HTR_CACHE/view, else ~/.cache/htr/view):
looking writes nothing beside the scans. Saving writes KEY.page.xml beside the result (beside the scan for a
page read in the view), or under the folder ``out`` when one is given, atomically; the file it replaces is kept
as KEY.page.xml.bak. The PDFs `htr batch --formats pdf` and `htr page --out pdf` write are outputs, not scans:
those in a folder holding a batch's manifest.jsonl, or made by htr (their Creator), are not pages.

A checked line carries ``htr {checked:true;}`` in its TextLine's ``custom`` attribute (beside the reading
order): the document model has no such field, so the mark is added to the writer's output and read from the file.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from htr.document import Page
from htr.errors import FormatError, HTRError
from htr.files import atomic_path, atomic_write
from htr.formats import document_key, read_document, write_page_xml
from htr.formats.pagexml import NS_2019
from htr.formats.xmlutil import local, parse_xml, to_string
from htr.imageio import IMAGE_SUFFIXES, PDF_SUFFIX, image_size, load_page, page_count
from htr.data.pages import image_for

RESULT_SUFFIXES = (".page.xml", ".pagexml.xml", ".alto.xml", ".alto", ".json", ".xml")  # the preferred first
SCAN_SUFFIXES = (*IMAGE_SUFFIXES, PDF_SUFFIX)
CHECKED = "htr {checked:true;}"  # in a TextLine's @custom: a person checked (and maybe corrected) its text
_CHECKED = re.compile(r"\bhtr\s*\{[^}]*\bchecked\s*:\s*true\b")
_SOURCE = re.compile(r'imageFilename="([^"]+)"|<(?:\w+:)?fileName>([^<]+)<|"source"\s*:\s*"([^"]+)"')
_RESULT_HEAD = re.compile(r"<(?:\w+:)?(?:PcGts|alto)\b|\"blocks\"")
_PAGE_NUMBER = re.compile(r"_p(\d{4,})$")


class EditError(ValueError):
    """A save request that cannot be applied: nothing was written."""


class Conflict(EditError):
    """The page changed on disk since the browser loaded it."""


@dataclass
class ViewPage:
    """One page: its scan (``number``: the page of a PDF or multi-page TIFF) and its result (None: not read);
    ``unsaved``: the result is a reading in htr's cache, not saved yet; ``out``: the folder saves go to."""
    id: str
    image: Path | None
    number: int | None = None
    result: Path | None = None
    unsaved: bool = False
    out: Path | None = None

    @property
    def target(self) -> Path:
        """Where a save writes: OUT/ID.page.xml, else KEY.page.xml beside the result, or beside the scan."""
        if self.out is not None:
            return self.out / f"{self.id}.page.xml"
        if self.result is not None and not self.unsaved:
            if self.result.name.lower().endswith(".page.xml"):
                return self.result
            return self.result.with_name(document_key(self.result) + ".page.xml")
        return self.image.with_name(self.image.stem + (f"_p{self.number:04d}" if self.number else "") + ".page.xml")


# ------------------------------------------------------------------------------------------------ finding

def _head(path: Path, size: int = 16384) -> str:
    with open(path, "rb") as f:
        return f.read(size).decode("utf-8", "replace")


def _files(path: Path, skip: set[str]) -> tuple[Path, list[Path]]:
    """The folder keys are taken under, and the files in it to look at (hidden names and ``skip`` left out)."""
    if path.is_file():
        return path.parent, [path]
    if not path.is_dir():
        raise FormatError(f"{path}: no such file or folder")
    found = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) not in skip)
        found += [Path(root, n) for n in sorted(names) if not n.startswith(".")]
    return path, found


def _batch_output(path: Path, root: Path) -> bool:
    """Whether a PDF is htr's output, not a scan: in (a folder under) an `htr batch` output folder, which holds
    its manifest.jsonl, or written by htr (`htr page --out pdf`)."""
    folder = path.parent
    while True:
        if (folder / "manifest.jsonl").is_file():
            return True
        if folder == root or folder == folder.parent:
            break
        folder = folder.parent
    try:
        import pypdfium2

        pdf = pypdfium2.PdfDocument(str(path))
        try:
            return pdf.get_metadata_dict().get("Creator", "").startswith("htr")
        finally:
            pdf.close()
    except Exception:
        return False


def _result_beside(image: Path, key: str) -> Path | None:
    stem = Path(key).name
    return next((image.with_name(stem + s) for s in RESULT_SUFFIXES if image.with_name(stem + s).is_file()), None)


def find_pages(paths: list[str | Path], skip: list[str | Path] = ()) -> list[ViewPage]:
    """The pages of the given folders (searched recursively) and files, ordered by id; ``skip``: folders to
    leave out (the export folder). FormatError for a path that does not exist."""
    skipped = {os.path.realpath(p) for p in skip}
    scans: dict[str, tuple[Path, int | None]] = {}
    results: dict[str, tuple[int, Path]] = {}  # key -> (preference, path)
    for arg in paths:
        root, files = _files(Path(arg), skipped)
        for path in files:
            name = path.name.lower()
            if name.endswith(SCAN_SUFFIXES):
                if name.endswith(PDF_SUFFIX) and _batch_output(path, root):
                    continue
                key = path.relative_to(root).with_suffix("").as_posix()
                try:
                    count = page_count(path)
                except HTRError:  # a PDF that cannot be opened: one page, whose reading reports the error
                    count = None
                for number in [None] if count is None else range(1, count + 1):
                    scans.setdefault(key if number is None else f"{key}_p{number:04d}", (path, number))
            elif name.endswith(RESULT_SUFFIXES) and _RESULT_HEAD.search(_head(path)):
                key = (path.parent.relative_to(root) / document_key(path)).as_posix()
                rank = next(i for i, s in enumerate(RESULT_SUFFIXES) if name.endswith(s))
                if key not in results or rank < results[key][0]:
                    results[key] = (rank, path)
    pages, claimed = [], set()
    for key, (_, result) in results.items():
        image, number = scans.get(key, (None, None))
        if image is None:
            match = _SOURCE.search(_head(result))
            image = image_for(result, next((g for g in match.groups() if g), None) if match else None)
            numbered = _PAGE_NUMBER.search(key)
            if image is not None and numbered and image.suffix.lower() in (PDF_SUFFIX, ".tif", ".tiff"):
                number = int(numbered.group(1))
        claimed.add((image, number))
        pages.append(ViewPage(key, image, number, result))
    for key, (image, number) in scans.items():
        if (image, number) not in claimed:
            pages.append(ViewPage(key, image, number, _result_beside(image, key) if number is None else None))
    pages.sort(key=lambda p: p.id)
    seen: dict[str, int] = {}
    for page in pages:  # equal keys from different folders: the later ones get ~2, ~3, ...
        seen[page.id] = seen.get(page.id, 0) + 1
        if seen[page.id] > 1:
            page.id = f"{page.id}~{seen[page.id]}"
    return pages


# ------------------------------------------------------------------------------------------------ reading

def checked_lines(path: Path) -> set[str]:
    """The ids of the lines marked checked in a PAGE-XML file (none in other formats)."""
    if not path.name.lower().endswith(".xml"):
        return set()
    root = parse_xml(path)
    return {e.get("id") for e in root.iter() if local(e.tag) == "TextLine" and _CHECKED.search(e.get("custom", ""))}


def load(page: ViewPage) -> tuple[Page, set[str]]:
    """The page's document and the ids of its checked lines; FormatError when it cannot be read."""
    doc = read_document(page.result)
    if (doc.width <= 0 or doc.height <= 0) and page.image is not None and page.number is None:
        doc.width, doc.height = image_size(page.image)
    return doc, checked_lines(page.result)


def version(page: ViewPage) -> str:
    """A tag of the page's result as it is on disk ("" when not read): a save names the one it edited."""
    if page.result is None or not page.result.is_file():
        return ""
    return hashlib.sha1(page.result.read_bytes()).hexdigest()[:16]


def page_xml(doc: Page, checked: set[str]) -> str:
    """The page as PAGE-XML 2019 with ``htr {checked:true;}`` in the custom attribute of the checked lines."""
    root = ET.fromstring(write_page_xml(doc).encode("utf-8"))
    for elem in root.iter(f"{{{NS_2019}}}TextLine"):
        if elem.get("id") in checked:
            elem.set("custom", f"{elem.get('custom', '')} {CHECKED}".strip())
    return to_string(root)


def write_keeping(path: Path, text: str) -> None:
    """``text`` to ``path``, whole or not at all; the file it replaces is kept as PATH.bak."""
    if path.exists():
        atomic_write(path.with_name(path.name + ".bak"), path.read_bytes())
    atomic_write(path, text)


def apply_edits(doc: Page, checked: set[str], body) -> int:
    """Apply a save request's body, ``{"lines": [{"id", "text", "checked"}, ...], "version"}``, to the page in
    place: a line whose text changes is marked checked unless ``checked`` says otherwise. The number of lines
    changed; EditError (nothing applied) for a malformed body or an unknown line."""
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        raise EditError('the body must be a JSON object with a "lines" list')
    lines = {line.id: line for line in doc.lines}
    edits = []
    for item in body["lines"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise EditError('each of "lines" must be an object with an "id"')
        line = lines.get(item["id"])
        text, mark = item.get("text", line.text if line else ""), item.get("checked")
        if line is None:
            raise EditError(f"no line {item['id'][:40]!r} on this page")
        if not isinstance(text, str) or "\n" in text or "\r" in text:
            raise EditError(f"line {line.id}: text must be a string of one line")
        if mark is not None and not isinstance(mark, bool):
            raise EditError(f"line {line.id}: checked must be true or false")
        edits.append((line, text.strip(), mark))
    changed = 0
    for line, text, mark in edits:
        edited = text != line.text
        if edited:
            changed += 1
            line.text, line.confidence = text, None  # a person's text: the recogniser's confidence is gone
        if mark or (mark is None and edited):
            checked.add(line.id)
        elif mark is False:
            checked.discard(line.id)
    return changed


# ------------------------------------------------------------------------------------------------ the set

class Pages:
    """The served pages by id; those not yet read are read in the background, one at a time, by the Reader
    ``make_reader`` builds (on first need), into htr's cache until saved; ``out``: the folder saves go to
    (default: beside each page's result or scan)."""

    def __init__(self, pages: list[ViewPage], make_reader: Callable | None = None, out: str | Path | None = None):
        for page in pages:
            page.out = Path(out) if out is not None else None
        self.pages = {page.id: page for page in pages}
        self.order = [page.id for page in pages]
        self._make_reader, self._reader = make_reader, None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="htr-view-read")
        self._reading: dict[str, Future] = {}
        self._lock = threading.Lock()

    def reading(self, page: ViewPage) -> Future | None:
        """None when the page has a result; else the future of its reading (started when not yet)."""
        with self._lock:
            if page.result is not None:
                return None
            if page.id not in self._reading:
                self._reading[page.id] = self._pool.submit(self._read, page)
            return self._reading[page.id]

    def forget(self, page: ViewPage) -> None:
        """Drop a reading that failed (after reporting it), so that the next view tries again."""
        with self._lock:
            self._reading.pop(page.id, None)

    def _read(self, page: ViewPage) -> None:
        if self._make_reader is None:
            raise FormatError("this page has no result yet, and no reader was given to read it")
        if self._reader is None:
            self._reader = self._make_reader()
        doc = self._reader.read(load_page(page.image, page.number), source=page.image.name)
        reading = cached_reading(page)
        atomic_write(reading, page_xml(doc, set()))
        with self._lock:
            page.result, page.unsaved = reading, True

    def save(self, page: ViewPage, body) -> dict:
        """Apply a save request and write the page: its new version, and the lines changed and checked."""
        with self._lock:
            if page.result is None:
                raise EditError("this page has not been read yet")
            if isinstance(body, dict) and body.get("version") not in (None, version(page)):
                raise Conflict("the page changed on disk since it was loaded: reload it")
            doc, checked = load(page)
            changed = apply_edits(doc, checked, body)
            target = page.target
            write_keeping(target, page_xml(doc, checked))
            page.result, page.unsaved = target, False
            return {"version": version(page), "changed": changed, "checked": len(checked),
                    "saved": str(page.target)}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def cached_reading(page: ViewPage) -> Path:
    """Where the reading of a page read in the view waits to be saved: htr's cache, one file per scan page."""
    from htr.paths import cache_root

    name = hashlib.sha1(f"{page.image.resolve()}\0{page.number}".encode()).hexdigest()[:20]
    return cache_root() / "view" / f"{name}.page.xml"


def summary(page: ViewPage) -> dict:
    """What the page list shows of a page, without parsing it: lines and checked lines of a PAGE-XML."""
    info = {"id": page.id, "read": page.result is not None, "unsaved": page.unsaved,
            "image": page.image is not None}
    if page.result is not None and page.result.name.lower().endswith(".xml"):
        data = page.result.read_text(encoding="utf-8", errors="replace")
        info.update(lines=data.count("<TextLine"), checked=len(_CHECKED.findall(data)))
    return info


def page_json(page: ViewPage, doc: Page, checked: set[str]) -> dict:
    """A page as the browser draws and edits it."""
    def points(polygon) -> list:
        return np.round(np.asarray(polygon, np.float64), 1).tolist()

    return {"id": page.id, "width": doc.width, "height": doc.height, "version": version(page),
            "result": str(page.result), "unsaved": page.unsaved, "target": str(page.target),
            "image": page.image is not None,
            "lines": [{"id": line.id, "text": line.text, "confidence": line.confidence, "checked": line.id in checked,
                       "polygon": points(line.polygon),
                       "words": [{"text": w.text, "confidence": w.confidence, "polygon": points(w.polygon)}
                                 for w in line.words]}
                      for line in doc.lines]}


def image_jpeg(page: ViewPage) -> bytes:
    """The scan as the coordinates see it (EXIF orientation applied, a PDF page rendered), as JPEG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(load_page(page.image, page.number)).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ export

def export(pages: list[ViewPage], folder: str | Path) -> dict:
    """The pages with checked lines as ground truth for `htr train rec --data` (and `htr data compile`):
    FOLDER/KEY.page.xml, whose unchecked lines keep their outline but no text, beside the scan FOLDER/KEY.EXT
    (a PDF or TIFF page as PNG). Pages and lines exported."""
    from PIL import Image

    folder = Path(folder)
    count = {"folder": str(folder), "pages": 0, "lines": 0}
    for page in pages:
        if page.result is None or page.image is None or not (checked := checked_lines(page.result)):
            continue
        doc, checked = load(page)
        for line in doc.lines:
            if line.id not in checked:
                line.text, line.confidence, line.words = "", None, []
        base = folder / page.id
        if page.number is None:
            image = base.with_name(base.name + page.image.suffix.lower())
            with atomic_path(image) as tmp:
                shutil.copyfile(page.image, tmp)
        else:
            image = base.with_name(base.name + ".png")
            with atomic_path(image) as tmp:
                Image.fromarray(load_page(page.image, page.number)).save(tmp, "PNG")
        doc.source = image.name
        atomic_write(base.with_name(base.name + ".page.xml"), page_xml(doc, checked))
        count["pages"] += 1
        count["lines"] += len(checked)
    return count
