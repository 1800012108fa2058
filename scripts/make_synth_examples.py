"""Draw the synthetic-data contact sheets committed under examples/.

    python scripts/make_synth_examples.py [OUT_DIR]     # default: examples/

synth_lines.png: 24 lines (as `htr synth lines 24 OUT --seed 0` writes them) with word polygons in red and
character boundaries as green ticks. synth_pages.png: 6 pages of different layouts with line polygons in
green and word polygons in red. Both are palette PNGs to stay small. Needs the fonts (`htr synth fonts`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from htr.synth.dataset import item_rng
from htr.synth.lines import render_line
from htr.synth.pages import render_page

PAGE_LAYOUTS = ["letter", "form", "two_columns", "marginal", "table", "mixed"]


def _poly(img, polygon, colour, thickness=1):
    cv2.polylines(img, [np.round(polygon).astype(np.int32)], True, colour, thickness, cv2.LINE_AA)


def lines_sheet(n: int = 24, width: int = 1100) -> np.ndarray:
    rows = []
    for i in range(n):
        s = render_line(item_rng(0, i))
        img = s.image.copy()
        for _, polygon in s.words:
            _poly(img, polygon, (230, 0, 0))
        for x0, _ in s.char_spans:
            cv2.line(img, (int(round(x0)), img.shape[0] - 1), (int(round(x0)), img.shape[0] - 4), (0, 170, 0))
        if img.shape[1] > width:
            size = (width, int(img.shape[0] * width / img.shape[1]))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        rows.append(img)
    sheet = np.full((sum(r.shape[0] + 6 for r in rows), width, 3), 255, np.uint8)
    y = 0
    for r in rows:
        sheet[y:y + r.shape[0], :r.shape[1]] = r
        y += r.shape[0] + 6
    return sheet


def pages_sheet(tile_w: int = 400, cols: int = 3) -> np.ndarray:
    tiles = []
    for i, layout in enumerate(PAGE_LAYOUTS):
        image, page = render_page(item_rng(1, i), layout=layout)
        vis = image.copy()
        for line in page.lines:
            _poly(vis, line.polygon, (0, 170, 0), 3)
            for word in line.words:
                _poly(vis, word.polygon, (230, 0, 0), 2)
        h = int(vis.shape[0] * tile_w / vis.shape[1])
        tiles.append(cv2.resize(vis, (tile_w, h), interpolation=cv2.INTER_AREA))
    tile_h = max(t.shape[0] for t in tiles)
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.full((rows * (tile_h + 8), cols * (tile_w + 8), 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        y, x = (k // cols) * (tile_h + 8), (k % cols) * (tile_w + 8)
        sheet[y:y + t.shape[0], x:x + tile_w] = t
    return sheet


def save_palette(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image).quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"{path}: {path.stat().st_size / 1e3:.0f} kB")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "examples")
    out.mkdir(parents=True, exist_ok=True)
    save_palette(lines_sheet(), out / "synth_lines.png")
    save_palette(pages_sheet(), out / "synth_pages.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
