"""A compiled corpus on disk, and reading it back memory-mapped.

Layout of a corpus folder (written by ``htr data compile``)::

    manifest.json               height, normaliser version, and per source its fingerprint and counts
    SOURCE/crops.u8             every line crop of the source, grey uint8 rows of ``height`` pixels, end to end
    SOURCE/lines.jsonl          a line per crop: text, split, doc, page, id, offset and width into crops.u8
    SOURCE/pages.jsonl          a line per page: image and XML paths (absolute), doc, split, lines
    SOURCE/report.json          what was compiled and every line or page left out, with the reason

Crops are stored as one flat NumPy memmap per source: they all have the recogniser's height, so a byte offset and
a width are all a crop needs, nothing is decoded when reading, and the OS pages in only what the trainer touches.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

MANIFEST = "manifest.json"


def read_manifest(folder: Path) -> dict | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(row) for row in f if row.strip()]


def is_corpus(folder: str | Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


@dataclass
class CorpusLines:
    """The lines of one or more compiled sources (optionally one split): texts and names in memory, crops
    memory-mapped and read on demand. Pickles as paths and indices, so DataLoader workers reopen the maps."""

    height: int
    files: list[Path] = field(default_factory=list)  # crops.u8 per source
    source_of: list[int] = field(default_factory=list)  # index into files, per line
    sources: list[str] = field(default_factory=list)  # source name per file
    offsets: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # "<source>/<doc>:<page>:<line id>"
    group: list[int] = field(default_factory=list)  # which --data entry a line came from (for mixing by weight)
    stored: tuple[int, list[int]] | None = None  # (height, widths) on disk when read at another height (resized)
    _maps: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    def image(self, i: int) -> np.ndarray:
        """Crop ``i`` as a (height, width) uint8 array (a view of the memory map, or resized from it)."""
        f = self.source_of[i]
        if f not in self._maps:
            self._maps[f] = np.memmap(self.files[f], dtype=np.uint8, mode="r")
        start = self.offsets[i]
        h, w = (self.stored[0], self.stored[1][i]) if self.stored else (self.height, self.widths[i])
        crop = self._maps[f][start:start + h * w].reshape(h, w)
        if not self.stored:
            return crop
        return cv2.resize(crop, (self.widths[i], self.height),
                          interpolation=cv2.INTER_AREA if h > self.height else cv2.INTER_LINEAR)

    def at_height(self, height: int) -> "CorpusLines":
        """These lines read at another crop height (each crop resized as it is read, widths scaled)."""
        if height == self.height:
            return self
        stored_height, stored_widths = self.stored or (self.height, self.widths)
        widths = [max(1, round(w * height / stored_height)) for w in stored_widths]
        return replace(self, height=height, widths=widths, stored=(stored_height, stored_widths), _maps={})

    def source(self, i: int) -> str:
        return self.sources[self.source_of[i]]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_maps"} | {"_maps": {}}

    def extend(self, other: "CorpusLines", group: int = 0) -> None:
        """Append another selection's lines (of the same height), tagged ``group``."""
        if self.stored or other.stored:
            raise ValueError("lines read at another height cannot be extended")
        if len(self) and other.height != self.height:
            raise ValueError(f"corpora of different crop heights ({self.height}, {other.height}) cannot be mixed")
        self.height = other.height
        base = len(self.files)
        self.files += other.files
        self.sources += other.sources
        self.source_of += [base + s for s in other.source_of]
        self.offsets += other.offsets
        self.widths += other.widths
        self.texts += other.texts
        self.names += other.names
        self.group += [group] * len(other)


def open_lines(folder: str | Path, split: str | None = None, sources: list[str] | None = None) -> CorpusLines:
    """The lines of a compiled corpus: all, or those of one split ("train"/"dev") and of some sources."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"{folder}: not a compiled corpus (no {MANIFEST}; build one with `htr data compile`)")
    out = CorpusLines(height=int(manifest["height"]))
    for name in sorted(manifest["sources"]):
        if sources is not None and name not in sources:
            continue
        file_index = len(out.files)
        out.files.append(folder / name / "crops.u8")
        out.sources.append(name)
        for row in read_jsonl(folder / name / "lines.jsonl"):
            if split is not None and row["split"] != split:
                continue
            out.source_of.append(file_index)
            out.offsets.append(int(row["offset"]))
            out.widths.append(int(row["width"]))
            out.texts.append(row["text"])
            out.names.append(f"{name}/{row['doc']}:{row['page']}:{row['id']}")
    out.group = [0] * len(out)
    return out


def open_pages(folder: str | Path, split: str | None = None) -> dict[str, list[dict]]:
    """Per source, the page records of a compiled corpus (image, xml, doc, split, lines), in compile order."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise FileNotFoundError(f"{folder}: not a compiled corpus (no {MANIFEST})")
    out = {}
    for name in sorted(manifest["sources"]):
        rows = read_jsonl(folder / name / "pages.jsonl")
        out[name] = [r for r in rows if split is None or r["split"] == split]
    return out
