"""Plain text: blocks separated by a blank line, lines by newlines; no geometry."""
from __future__ import annotations

import numpy as np

from htr.document import Block, Line, Page


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
