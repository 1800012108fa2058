"""A page being composed: paper, rulings, and text lines placed with their ground truth."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from htr.document import Block, Line, Word, hull_polygon
from htr.synth.charset import fit_text
from htr.synth.fonts import FontInfo, load_font
from htr.synth.ink import InkLine, Style, render_ink
from htr.synth.lines import INKS, paper_colour, sample_style


@dataclass
class Writer:
    """One hand (or typeface) used on a page: a font style and an ink."""
    style: Style
    ink: np.ndarray  # RGB float32
    opacity: float
    kind: str  # "handwriting" | "print"

    @property
    def size(self) -> int:
        return self.style.size

    def with_size(self, size: int) -> "Writer":
        return Writer(Style(**{**self.style.__dict__, "size": int(size)}), self.ink, self.opacity, self.kind)

    def line_height(self) -> float:
        return self.size * (1.45 if self.kind == "handwriting" else 1.3)


def make_writer(rng, font: FontInfo, size: int, ink=None) -> Writer:
    style = sample_style(rng, font, size)
    inks = INKS[font.kind]
    colour = np.array(ink if ink is not None else inks[int(rng.integers(len(inks)))], np.float32)
    return Writer(style, colour + rng.normal(0, 6, 3).astype(np.float32), float(rng.uniform(0.8, 1.0)),
                  font.kind)


class PageCanvas:
    """Paper of width x height pixels that lines are written onto; collects blocks in reading order."""

    def __init__(self, rng, width: int, height: int):
        self.rng = rng
        self.width, self.height = width, height
        self.paper = paper_colour(rng)
        self.image = np.empty((height, width, 3), np.float32)
        self.image[:] = self.paper
        self.ink = np.zeros((height, width), np.uint8)  # all ink written, for bleed-through
        self.blocks: list[Block] = []

    # -- drawing that carries no text
    def rule(self, p0, p1, colour, thickness: int = 1) -> None:
        pts = np.round(np.array([p0, p1], np.float64) * 4).astype(np.int32)
        cv2.line(self.image, tuple(pts[0]), tuple(pts[1]), tuple(float(c) for c in colour), thickness,
                 cv2.LINE_AA, shift=2)

    def rect(self, x0, y0, x1, y1, colour, thickness: int = 1) -> None:
        corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        for k in range(4):
            self.rule(corners[k], corners[(k + 1) % 4], colour, thickness)

    # -- text
    def paste(self, alpha: np.ndarray, x: int, y: int, writer: Writer) -> bool:
        """Composite an ink mask at (x, y); False (nothing drawn) if it does not fit on the page."""
        h, w = alpha.shape
        if x < 0 or y < 0 or x + w > self.width or y + h > self.height:
            return False
        region = self.image[y:y + h, x:x + w]
        a = alpha.astype(np.float32) * (writer.opacity / 255)
        region += a[..., None] * (writer.ink - region)
        np.maximum(self.ink[y:y + h, x:x + w], alpha, out=self.ink[y:y + h, x:x + w])
        return True

    def render(self, text: str, writer: Writer) -> InkLine | None:
        text = fit_text(text, writer.style.font.charset)
        if not text:
            return None
        try:
            return render_ink(self.rng, text, writer.style, margin=2)
        except ValueError:  # every glyph came out empty in this font (e.g. a lone "-"): leave the line out
            return None

    def write(self, text: str, writer: Writer, x: float, baseline_y: float, align: str = "left",
              max_width: float | None = None) -> Line | None:
        """Write one line with its first baseline point at (x, baseline_y) (align: left|right|center within
        max_width from x); the Line with its geometry in page pixels, or None if it does not fit."""
        ink = self.render(text, writer)
        if ink is None:
            return None
        h, w = ink.alpha.shape
        if max_width is not None and w > max_width + 4:
            return None
        bx, by = ink.words[0].baseline[0]
        left = x - bx + 2
        if align == "right" and max_width is not None:
            left = x + max_width - w
        elif align == "center" and max_width is not None:
            left = x + (max_width - w) / 2
        ix, iy = int(round(left)), int(round(baseline_y - by))
        if not self.paste(ink.alpha, ix, iy, writer):
            return None
        ink.shift(ix, iy)
        words = [Word(polygon=wd.polygon, text=wd.text) for wd in ink.words]
        return Line(polygon=ink.polygon, text=ink.text, baseline=ink.baseline, words=words, kind=writer.kind)

    def add_block(self, lines: list[Line | None], kind: str) -> Block | None:
        lines = [ln for ln in lines if ln is not None]
        if not lines:
            return None
        block = Block(polygon=hull_polygon([ln.polygon for ln in lines]), lines=lines, kind=kind)
        self.blocks.append(block)
        return block

    # -- flowing text
    def wrap(self, text: str, writer: Writer, width: float, first_indent: float = 0.0) -> list[str]:
        """Greedy word wrap by measured advance widths (with a margin for slant and jitter)."""
        font = load_font(writer.style.font.path, writer.size)
        space = font.getlength(" ") * writer.style.word_space
        slack = 0.9 - abs(writer.style.slant) * 0.2 - (0.05 if writer.style.tracking else 0.0)
        budget = width * slack
        lines, current, used = [], [], first_indent
        for word in fit_text(text, writer.style.font.charset).split():
            wl = font.getlength(word) + len(word) * writer.style.tracking
            if current and used + space + wl > budget:
                lines.append(" ".join(current))
                current, used = [], 0.0
            used += (space if current else 0.0) + wl
            current.append(word)
        if current:
            lines.append(" ".join(current))
        return lines

    def paragraph(self, text: str, writer: Writer, x: float, y: float, width: float, bottom: float,
                  indent: float = 0.0, kind: str = "paragraph", pitch: float | None = None,
                  align: str = "left") -> float:
        """Flow text into lines from first baseline y down to bottom; one block; returns the next baseline."""
        pitch = pitch or writer.line_height()
        lines = []
        for i, text_line in enumerate(self.wrap(text, writer, width, indent)):
            if y > bottom:
                break
            off = indent if i == 0 else 0.0
            if writer.kind == "handwriting":  # hands do not keep a straight left margin
                off += abs(self.rng.normal(0, writer.size * 0.15))
            line = self.write(text_line, writer, x + off, y, align=align, max_width=width - off)
            if line is None and len(text_line.split()) > 1:  # too wide after all: drop the last word
                line = self.write(text_line.rsplit(" ", 1)[0], writer, x + off, y, align=align,
                                  max_width=width - off)
            lines.append(line)
            y += pitch
        self.add_block(lines, kind)
        return y
