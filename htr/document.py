"""The document model: Page -> Block -> Line -> Word.

Every element carries one geometry form, ``polygon``: a float32 (K, 2) array of (x, y) points in
original-image pixels; ``bbox`` is derived from it. A Page holds no image.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

ID_PATTERN = re.compile(r"^[A-Za-z_][\w.\-]*$")  # an XML ID (NCName): what PAGE, ALTO and hOCR can carry


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
    warnings: list[str] = field(default_factory=list)  # what the reader doubts: a page with ink but no line
    language: str | None = None  # the language code whose word list read the page (--lang); None: not one

    @property
    def lines(self) -> list[Line]:
        """All lines in reading order."""
        return [line for block in self.blocks for line in block.lines]

    def words(self) -> Iterator[Word]:
        for line in self.lines:
            yield from line.words

    def elements(self) -> list[Block | Line | Word]:
        """Blocks, then lines, then words, each in reading order."""
        return [*self.blocks, *self.lines, *self.words()]

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


@dataclass(eq=False)
class Document:
    """The pages of one file (a PDF, a multi-page TIFF or an image), in order: ``htr.read_document``."""
    pages: list[Page] = field(default_factory=list)
    source: str | None = None  # the file's name

    def __len__(self) -> int:
        return len(self.pages)

    def __iter__(self) -> Iterator[Page]:
        return iter(self.pages)

    def __getitem__(self, index: int) -> Page:
        return self.pages[index]

    @property
    def text(self) -> str:
        """The pages' text in order, separated by a form feed (as pdftotext separates pages)."""
        return "\f".join(page.text for page in self.pages)


def inside(polygon: np.ndarray, outer: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """``polygon`` as it is when it is valid and lies inside ``outer``; else clipped to ``outer`` shrunk by
    ``margin`` px (room for rounding to whole pixels): the outline of the largest piece that remains, on whole
    pixels, or, when nothing does, a box of a few pixels inside ``outer`` where ``polygon`` was nearest.
    ``polygon`` is returned as it is when ``outer`` is not a usable polygon."""
    from shapely import set_precision
    from shapely.geometry import Point, Polygon, box
    from shapely.ops import nearest_points
    from shapely.validation import make_valid

    def largest(shape):
        parts = [g for g in getattr(shape, "geoms", [shape]) if g.geom_type == "Polygon" and g.area > 0]
        return max(parts, key=lambda g: g.area) if parts else None

    if len(outer) < 3 or len(polygon) < 3:
        return polygon
    area = largest(make_valid(Polygon(outer)))
    own = Polygon(polygon)
    if area is None or (own.is_valid and own.within(area)):
        return four_points(polygon)
    def on_grid(shape):  # on whole pixels and still valid (rounding alone can make a thin piece cross itself)
        return largest(set_precision(shape.simplify(margin / 2), 1.0)) if shape is not None else None

    core = largest(area.buffer(-margin)) or area
    shape = on_grid(largest(make_valid(own).intersection(core)))
    if shape is None:  # the word vanished: keep a tiny box where it was nearest
        anchor, half = nearest_points(core, Point(np.asarray(polygon, np.float64).mean(0)))[0], max(margin, 1.0)
        shape = on_grid(largest(core.intersection(box(anchor.x - half, anchor.y - half, anchor.x + half,
                                                      anchor.y + half)))) or core
    return four_points(np.asarray(shape.exterior.coords[:-1], np.float32))


def four_points(polygon: np.ndarray) -> np.ndarray:
    """A triangle with its first edge's midpoint added (the same shape: PAGE consumers want four points)."""
    if len(polygon) != 3:
        return polygon
    return np.insert(polygon, 1, (polygon[0] + polygon[1]) / 2, axis=0).astype(np.float32)


def baseline_inside(baseline: np.ndarray | None, outer: np.ndarray, margin: float = 1.0) -> np.ndarray | None:
    """A baseline as it is when it lies inside ``outer``; else the longest piece of it inside ``outer`` shrunk by
    ``margin`` px; None when no piece is left."""
    from shapely.geometry import LineString, Polygon
    from shapely.validation import make_valid

    if baseline is None or len(baseline) < 2 or len(outer) < 3:
        return baseline
    area, own = make_valid(Polygon(outer)), LineString(baseline)
    if own.within(area):
        return baseline
    core = area.buffer(-margin)
    cut = own.intersection(area if core.is_empty else core)
    parts = [g for g in getattr(cut, "geoms", [cut]) if g.geom_type == "LineString" and g.length > 0]
    return np.asarray(max(parts, key=lambda g: g.length).coords, np.float32) if parts else None


def holding(polygon: np.ndarray, inner: list[np.ndarray], margin: float = 1.0) -> np.ndarray:
    """``polygon`` as it is when it holds every ``inner`` polygon; else the convex hull of it and them, grown by
    ``margin`` px."""
    from shapely.geometry import MultiPoint, Polygon

    shapes = [p for p in inner if len(p) >= 3]
    if len(polygon) < 3 or all(Polygon(polygon).buffer(0).contains(Polygon(p).buffer(0)) for p in shapes):
        return polygon
    hull = MultiPoint(np.concatenate([polygon, *shapes]).astype(np.float64)).convex_hull
    return np.asarray(hull.buffer(margin, join_style="mitre").exterior.coords[:-1], np.float32)


def nest_shapes(page: Page, grow_blocks: bool = False) -> Page:
    """Clip every word and baseline to its line and every line to its block, in place (what strict consumers
    such as OCR-D's PAGE validator check); ``grow_blocks``: keep the lines as they are (a segmentation's) and
    grow a block that does not hold its lines instead."""
    for block in page.blocks:
        block.polygon = four_points(block.polygon)
        if grow_blocks:
            block.polygon = holding(block.polygon, [line.polygon for line in block.lines])
        for line in block.lines:
            line.polygon = inside(line.polygon, block.polygon, margin=0.0)
            line.baseline = baseline_inside(line.baseline, line.polygon)
            for word in line.words:
                word.polygon = inside(word.polygon, line.polygon)
    return page


def assign_ids(page: Page) -> Page:
    """Give every block, line and word a unique XML ID, in place: an element keeps a valid id it has (the
    first of duplicates); the others get b1.., l1.., w1.. in reading order. Writers keep these ids."""
    elements = page.elements()
    used = set()
    for element in elements:
        if element.id and ID_PATTERN.match(element.id) and element.id not in used:
            used.add(element.id)
        else:
            element.id = None
    counters = {"b": 0, "l": 0, "w": 0}
    for element in elements:
        if element.id is None:
            prefix = {Block: "b", Line: "l", Word: "w"}[type(element)]
            while element.id is None or element.id in used:
                counters[prefix] += 1
                element.id = f"{prefix}{counters[prefix]}"
            used.add(element.id)
    return page


def drop_unsure(page: Page, threshold: float) -> Page:
    """The page without the words whose confidence (the probability that a word is read right) is under
    ``threshold``, and without the lines left with none; a line without words goes by its own confidence. Line
    text follows the words that remain."""
    def sure(shape) -> bool:
        return shape.confidence is None or shape.confidence >= threshold

    for block in page.blocks:
        lines = []
        for line in block.lines:
            if not line.words:
                lines += [line] if sure(line) else []
                continue
            kept = [w for w in line.words if sure(w)]
            if len(kept) < len(line.words):
                line.words, line.text = kept, " ".join(w.text for w in kept)
            lines += [line] if kept else []
        block.lines = lines
    page.blocks = [b for b in page.blocks if b.lines]
    return page
