"""The document model: Page -> Block -> Line -> Word.

Every element carries one geometry form, ``polygon``: a float32 (K, 2) array of (x, y) points in
original-image pixels; ``bbox`` is derived from it. A Page holds no image.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np


def as_polygon(points) -> np.ndarray:
    """Points (any (K, 2)-shaped sequence, or a flat x0, y0, x1, y1 ... sequence) as a float32 (K, 2) array."""
    arr = np.asarray(points, dtype=np.float32)
    if arr.ndim == 1:
        if arr.size % 2:
            raise ValueError(f"odd number of coordinates: {arr.size}")
        arr = arr.reshape(-1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"a polygon is a (K, 2) array, got shape {arr.shape}")
    return arr


def box_polygon(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """The rectangle (x0, y0)-(x1, y1) as a clockwise 4-point polygon."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def bbox_of(polygon: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a polygon."""
    if len(polygon) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    x0, y0 = polygon.min(axis=0)
    x1, y1 = polygon.max(axis=0)
    return (float(x0), float(y0), float(x1), float(y1))


def hull_polygon(polygons: list[np.ndarray]) -> np.ndarray:
    """The bounding rectangle of several polygons (a region's outline when none is given)."""
    points = [p for p in polygons if len(p)]
    if not points:
        return np.zeros((0, 2), dtype=np.float32)
    return box_polygon(*bbox_of(np.concatenate(points)))


class _Shape:
    polygon: np.ndarray

    def __post_init__(self):
        self.polygon = as_polygon(self.polygon)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return bbox_of(self.polygon)


@dataclass(eq=False)
class Word(_Shape):
    polygon: np.ndarray
    text: str = ""
    confidence: float | None = None
    id: str | None = None


@dataclass(eq=False)
class Line(_Shape):
    polygon: np.ndarray
    text: str = ""
    confidence: float | None = None
    baseline: np.ndarray | None = None
    words: list[Word] = field(default_factory=list)
    id: str | None = None
    kind: str | None = None  # line type as the source names it, e.g. "DefaultLine", "HeadingLine"

    def __post_init__(self):
        super().__post_init__()
        if self.baseline is not None:
            self.baseline = as_polygon(self.baseline)


@dataclass(eq=False)
class Block(_Shape):
    polygon: np.ndarray
    lines: list[Line] = field(default_factory=list)
    id: str | None = None
    kind: str | None = None  # region type as the source names it, e.g. "paragraph", "MainZone", "marginalia"

    @property
    def text(self) -> str:
        """The block's non-empty lines, one per line."""
        return "\n".join(line.text for line in self.lines if line.text)


@dataclass(eq=False)
class Page:
    width: int
    height: int
    blocks: list[Block] = field(default_factory=list)
    source: str | None = None  # the image file name the coordinates refer to
    rotation: int = 0  # degrees the scan was turned counter-clockwise to read it (coordinates stay the scan's)

    @property
    def lines(self) -> list[Line]:
        """All lines in reading order."""
        return [line for block in self.blocks for line in block.lines]

    def words(self) -> Iterator[Word]:
        for line in self.lines:
            yield from line.words

    @property
    def text(self) -> str:
        """The page text in reading order: lines separated by newlines, blocks by a blank line."""
        return "\n\n".join(text for text in (block.text for block in self.blocks) if text)

    def clip_to_image(self) -> "Page":
        """Clip every polygon and baseline into the image (real exports hold points a few pixels outside)."""
        if self.width <= 0 or self.height <= 0:
            return self
        high = np.array([self.width, self.height], np.float32)
        shapes = [*self.blocks, *self.lines, *self.words()]
        for shape in shapes:
            shape.polygon = np.clip(shape.polygon, 0, high)
        for line in self.lines:
            if line.baseline is not None:
                line.baseline = np.clip(line.baseline, 0, high)
        return self


def drop_unsure(page: Page, threshold: float) -> Page:
    """The page without lines and words whose confidence is under ``threshold``; line text follows the words
    that remain."""
    for block in page.blocks:
        block.lines = [ln for ln in block.lines if ln.confidence is None or ln.confidence >= threshold]
        for line in block.lines:
            kept = [w for w in line.words if w.confidence is None or w.confidence >= threshold]
            if len(kept) < len(line.words):
                line.words, line.text = kept, " ".join(w.text for w in kept)
    page.blocks = [b for b in page.blocks if b.lines]
    return page
