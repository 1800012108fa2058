"""Ground-truth lines of PAGE/ALTO folders as recogniser crops: (crop, text, name) per transcribed line; texts
normalised as for training (``htr.data.normalize``)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from htr.data.normalize import normalize_text
from htr.data.pages import gt_documents, image_for
from htr.errors import FormatError, HTRError
from htr.formats import read_document
from htr.geometry import crop_page_lines
from htr.imageio import load_image


@dataclass
class GTLine:
    image: np.ndarray  # (height, W) grey uint8 crop
    text: str
    name: str  # "<document stem>:<line index or id>"


def document_lines(xml: Path, height: int = 40) -> list[GTLine]:
    """The transcribed lines of one PAGE/ALTO file, cropped from its image; lines whose polygon is
    degenerate are left out. Raises FileNotFoundError when the image is missing."""
    page = read_document(xml)
    image_path = image_for(xml, page.source)
    if image_path is None:
        raise FileNotFoundError(f"{xml}: no page image found beside it")
    image = load_image(image_path)
    page.width, page.height = image.shape[1], image.shape[0]
    page.clip_to_image()
    lines = [line for line in page.lines if normalize_text(line.text)]
    out = []
    for i, (line, crop) in enumerate(zip(lines, crop_page_lines(image, lines, height))):
        if crop is not None:
            out.append(GTLine(crop.image, normalize_text(line.text), f"{xml.stem}:{line.id or i}"))
    return out


def folder_lines(folder: Path, height: int = 40) -> Iterator[tuple[Path, list[GTLine]]]:
    """(document, its lines) for every ground-truth file of a folder."""
    for xml in gt_documents(folder):
        yield xml, document_lines(xml, height)


def labelled_crops(folder: Path, height: int = 40) -> list[GTLine]:
    """The crops of a folder holding ``labels.tsv`` (image path relative to the folder, tab, text) or
    ``lines.jsonl`` (as `htr synth lines` writes: objects with "image" and "text"), grey and ``height``
    pixels high."""
    from htr.recognition.recognizer import fit_height

    folder = Path(folder)
    tsv = folder / "labels.tsv"
    listing = tsv if tsv.is_file() else folder / "lines.jsonl"
    out = []
    for n, row in listing_rows(listing):
        if row is None:
            raise FormatError(f"{listing}, line {n}: expected {LISTING_ROW}")
        out.append(GTLine(fit_height(load_image(folder / row[0]), height), normalize_text(row[1]), row[0]))
    return out


LISTING_ROW = "'image<TAB>text' or a JSON object with image and text"


def listing_rows(listing: Path) -> Iterator[tuple[int, tuple[str, str] | None]]:
    """(line number, (image name, text)) for each non-blank row of a ``labels.tsv`` or ``lines.jsonl``; None in
    place of a row that is neither."""
    for n, row in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        if not row.strip():
            continue
        try:
            if listing.name == "labels.tsv":
                name, text = row.split("\t", 1)
            else:
                record = json.loads(row)
                name, text = record["image"], record["text"]
            yield n, (str(name), str(text))
        except (ValueError, KeyError, TypeError):
            yield n, None


def folder_documents(folder: Path, height: int = 40, limit: int = 0) -> Iterator[list[GTLine]]:
    """The ground-truth lines of a folder, a list per document: PAGE/ALTO files beside their page images, or
    a folder of crops listed in ``labels.tsv`` or ``lines.jsonl`` (in lists of 64). ``limit``: at most this many documents."""
    folder = Path(folder)
    if (folder / "labels.tsv").is_file() or (folder / "lines.jsonl").is_file():
        crops = labelled_crops(folder, height)
        yield from [crops[i:i + 64] for i in range(0, len(crops), 64)][: limit or None]
        return
    docs = gt_documents(folder)[: limit or None]
    if not docs:
        raise HTRError(f"{folder}: no PAGE-XML or ALTO documents (or labels.tsv) found")
    for xml in docs:
        try:
            yield document_lines(xml, height)
        except FileNotFoundError as err:
            raise HTRError(str(err)) from err


def labelled_inputs(folders: list[Path], height: int, limit: int, split: str):
    """(row label, lists of GTLine) per folder; a compiled corpus gives a row per source of its ``split``."""
    from htr.data.corpus import is_corpus, open_lines, read_manifest

    for folder in folders:
        if not is_corpus(folder):
            yield str(folder), folder_documents(folder, height, limit)
            continue
        for source in sorted(read_manifest(folder)["sources"]):
            lines = open_lines(folder, split, [source])
            if len(lines):
                yield f"{folder}/{source}", corpus_documents(lines, limit)


def corpus_documents(lines, limit: int):
    """A compiled selection's lines as GTLine lists of 64 (at most ``limit`` lists; 0: all)."""
    starts = range(0, len(lines), 64)[: limit or None]
    for k in starts:
        yield [GTLine(np.asarray(lines.image(i)), lines.texts[i], lines.names[i])
               for i in range(k, min(k + 64, len(lines)))]
