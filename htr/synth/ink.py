"""Rendering one text line as an ink mask with exact geometry.

Each word is drawn with Pillow on its own small canvas, then slanted, rotated and scaled by one affine map,
optionally bent by a smooth elastic field (cv2.remap), and placed on a wobbling baseline. A word's polygon is
the tightest parallelogram, in the word's own slanted frame, around its drawn ink pixels, so it holds all of
the word's ink and nothing of its neighbours' (words are pushed apart until their polygons are disjoint).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from htr.synth.fonts import FontInfo, load_font

INK_T = 48  # alpha above which a pixel counts as ink for the word polygons


@dataclass
class Style:
    font: FontInfo
    size: int  # font size in pixels
    stroke: int = 0  # extra stroke width (Pillow stroke_width)
    slant: float = 0.0  # shear: x shifts by slant * height above the baseline
    word_space: float = 1.0  # multiple of the font's space advance
    tracking: float = 0.0  # extra pixels between letters (words then drawn letter by letter)
    wobble: float = 0.0  # baseline wobble amplitude, pixels
    wobble_len: float = 400.0  # its wavelength, pixels
    jitter: float = 0.0  # per-word vertical jitter (pixels) and rotation (degrees / 2) and scale (%)
    elastic: float = 0.0  # elastic warp amplitude, pixels
    tilt: float = 0.0  # slope of the whole line (dy/dx; words rotate with it)
    thin: bool = False  # erode strokes by a pixel


@dataclass
class InkWord:
    text: str
    polygon: np.ndarray  # (4, 2) float32: top-left, top-right, bottom-right, bottom-left
    baseline: np.ndarray  # (2, 2) float32
    spans: np.ndarray  # (len(text), 2) float32 x-spans of the characters along the baseline


@dataclass
class InkLine:
    alpha: np.ndarray  # (H, W) uint8 ink coverage
    words: list[InkWord]
    text: str
    spans: np.ndarray  # (len(text), 2) float32: x-span of every character, spaces included
    style: Style

    def shift(self, dx: float, dy: float) -> None:
        """Move the geometry by (dx, dy) (after the alpha mask is placed at that offset)."""
        for w in self.words:
            w.polygon += (dx, dy)
            w.baseline += (dx, dy)
            w.spans += dx
        self.spans += dx

    @property
    def baseline(self) -> np.ndarray:
        return np.concatenate([w.baseline for w in self.words]).astype(np.float32)

    @property
    def polygon(self) -> np.ndarray:
        """The outline of the line: top edges of its word polygons left to right, then bottom edges back."""
        top = [p for w in self.words for p in (w.polygon[0], w.polygon[1])]
        bottom = [p for w in reversed(self.words) for p in (w.polygon[2], w.polygon[3])]
        return np.array(top + bottom, dtype=np.float32)


def _draw_word(font, word: str, style: Style) -> tuple[np.ndarray, tuple[float, float], list[float]]:
    """The word's alpha mask, its baseline origin in it, and the character boundaries (len+1) along x."""
    if style.tracking:
        bounds = [0.0]
        for ch in word:
            bounds.append(bounds[-1] + font.getlength(ch) + style.tracking)
        bounds[-1] -= style.tracking
        pieces = [(bounds[i], ch) for i, ch in enumerate(word)]
    else:
        bounds = [0.0] + [font.getlength(word[:i]) for i in range(1, len(word) + 1)]
        pieces = [(0.0, word)]
        if not style.stroke:  # one glyph run: take FreeType's mask directly
            core, (dx, dy) = font.getmask2(word, mode="L", anchor="ls")
            pad = 2
            alpha = np.zeros((core.size[1] + 2 * pad, core.size[0] + 2 * pad), np.uint8)
            if core.size[0] and core.size[1]:
                alpha[pad:-pad, pad:-pad] = np.asarray(Image.Image()._new(core))
            if style.thin:
                alpha = cv2.erode(alpha, np.ones((2, 2), np.uint8))
            ox, oy = pad - dx, pad - dy
            return alpha, (float(ox), float(oy)), [ox + b for b in bounds]
    boxes = [font.getbbox(t, anchor="ls", stroke_width=style.stroke) for _, t in pieces]
    left = min(x + b[0] for (x, _), b in zip(pieces, boxes))
    right = max(x + b[2] for (x, _), b in zip(pieces, boxes))
    top = min(b[1] for b in boxes)
    bottom = max(b[3] for b in boxes)
    pad = 2 + style.stroke
    ox, oy = pad - left, pad - top
    img = Image.new("L", (int(np.ceil(right - left)) + 2 * pad, int(bottom - top) + 2 * pad))
    draw = ImageDraw.Draw(img)
    for x, t in pieces:
        draw.text((ox + x, oy), t, font=font, fill=255, anchor="ls", stroke_width=style.stroke,
                  stroke_fill=255)
    alpha = np.asarray(img)
    if style.thin:
        alpha = cv2.erode(alpha, np.ones((2, 2), np.uint8))
    return alpha, (float(ox), float(oy)), [ox + b for b in bounds]


def _transform_word(alpha, origin, style: Style, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Slant, rotate and scale the word about its origin; returns the new mask, the 2x3 affine map used,
    and the horizontal elastic displacement field (or None)."""
    angle = np.deg2rad(rng.normal(0, style.jitter / 2)) if style.jitter else 0.0
    angle += np.arctan(style.tilt)
    scale = 1.0 + (rng.normal(0, style.jitter / 100) if style.jitter else 0.0)
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    m = np.array([[c, -s], [s, c]]) @ np.array([[1.0, -style.slant], [0.0, 1.0]])
    h, w = alpha.shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) - origin
    moved = corners @ m.T
    pad = int(np.ceil(style.elastic * 2)) + 1
    lo = np.floor(moved.min(0)) - pad
    size = (np.ceil(moved.max(0)) - lo + pad).astype(int)
    t = -lo - m @ np.asarray(origin)  # out = m @ p + t
    affine = np.hstack([m, t[:, None]])
    if angle == 0.0 and scale == 1.0 and style.slant == 0.0:
        out = np.zeros((size[1], size[0]), np.uint8)
        x0, y0 = int(round(t[0])), int(round(t[1]))
        affine[:, 2] = (x0, y0)
        out[y0:y0 + h, x0:x0 + w] = alpha
    else:
        out = cv2.warpAffine(alpha, affine, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR)
    dx = None
    if style.elastic > 0:
        hh, ww = out.shape
        gw = max(2, int(ww / (style.size * 0.8)))
        field = rng.normal(0, style.elastic, (2, 3, gw)).astype(np.float32)
        dx = cv2.resize(field[0], (ww, hh), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(field[1], (ww, hh), interpolation=cv2.INTER_CUBIC)
        gx, gy = np.meshgrid(np.arange(ww, dtype=np.float32), np.arange(hh, dtype=np.float32))
        out = cv2.remap(out, gx + dx, gy + dy, cv2.INTER_LINEAR)
    return out, affine, dx


def _word_geometry(alpha, affine, origin, bounds, dx):
    """Polygon, baseline and char spans of a transformed word (in its mask's pixels); None if no ink."""
    mask = alpha > INK_T
    rows = np.nonzero(mask.any(1))[0]
    if len(rows) == 0:
        return None
    m, t = affine[:, :2], affine[:, 2]
    inv = np.linalg.inv(m)
    # the extreme ink pixels of each row suffice (u, v are linear in x); take the corners of those pixel
    # squares so the polygon covers every ink pixel entirely
    sub = mask[rows]
    first = sub.argmax(1)
    last = mask.shape[1] - sub[:, ::-1].argmax(1)
    ys = rows.astype(np.float64)
    corners = np.concatenate([np.stack([first, ys], 1), np.stack([first, ys + 1], 1),
                              np.stack([last, ys], 1), np.stack([last, ys + 1], 1)])
    local = (corners - t) @ inv.T
    (u0, v0), (u1, v1) = local.min(0), local.max(0)
    quad = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]]) @ m.T + t
    oy = origin[1]
    base = np.array([[u0, oy], [u1, oy]]) @ m.T + t
    bx = (np.stack([bounds, np.full(len(bounds), oy)], 1)) @ m.T + t
    xb = bx[:, 0]
    if dx is not None:
        row = int(np.clip(round(bx[0, 1]), 0, alpha.shape[0] - 1))
        cols = np.clip(np.round(xb).astype(int), 0, alpha.shape[1] - 1)
        xb = xb - dx[row, cols]
    xb = np.maximum.accumulate(xb)
    spans = np.stack([xb[:-1], xb[1:]], 1)
    return quad.astype(np.float32), base.astype(np.float32), spans.astype(np.float32)


def _x_at(a, b, y):
    """x of the line through points a and b at height y."""
    if abs(b[1] - a[1]) < 1e-6:
        return max(a[0], b[0])
    return a[0] + (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1])


def render_ink(rng: np.random.Generator, text: str, style: Style, margin: int = 2) -> InkLine:
    """Render text (single spaces between words) as an InkLine cropped to its ink plus margin pixels."""
    font = load_font(style.font.path, style.size)
    space = font.getlength(" ") * style.word_space
    phase = rng.uniform(0, 2 * np.pi)
    pen = 0.0
    placed = []  # (mask, x, y, quad, base, spans, word)
    for word in text.split(" "):
        alpha, origin, bounds = _draw_word(font, word, style)
        alpha, affine, dx = _transform_word(alpha, origin, style, rng)
        geo = _word_geometry(alpha, affine, origin, bounds, dx)
        if geo is None:
            continue
        quad, base, spans = geo
        o = affine[:, :2] @ np.asarray(origin) + affine[:, 2]
        y = style.wobble * np.sin(phase + 2 * np.pi * pen / style.wobble_len) + style.tilt * pen
        if style.jitter:
            y += rng.normal(0, style.jitter)
        x, y = pen - o[0], y - o[1]
        if placed:  # push right until clear of the previous word's polygon
            pq = placed[-1][3] + placed[-1][1:3]
            q = quad + (x, y)
            ya, yb = max(pq[0, 1], pq[1, 1], q[0, 1]), min(pq[2, 1], pq[3, 1], q[3, 1])
            if ya < yb:
                need = max(_x_at(pq[1], pq[2], yy) - _x_at(q[0], q[3], yy) for yy in (ya, yb))
                gap = max(1.0, 0.08 * style.size)
                if need + gap > 0:
                    x += need + gap
        placed.append((alpha, x, y, quad, base, spans, word))
        adv = spans[-1, 1] - spans[0, 0] if len(spans) else alpha.shape[1]
        pen = x + spans[-1, 1] + space if len(spans) else pen + adv + space
    if not placed:
        raise ValueError(f"nothing to draw for {text!r}")
    x0 = min(p[1] for p in placed)
    y0 = min(p[2] for p in placed)
    x1 = max(p[1] + p[0].shape[1] for p in placed)
    y1 = max(p[2] + p[0].shape[0] for p in placed)
    ox, oy = int(np.floor(x0)), int(np.floor(y0))
    canvas = np.zeros((int(np.ceil(y1)) - oy + 1, int(np.ceil(x1)) - ox + 1), np.uint8)
    words = []
    for alpha, x, y, quad, base, spans, word in placed:
        ix, iy = int(round(x)) - ox, int(round(y)) - oy
        h, w = alpha.shape
        region = canvas[iy:iy + h, ix:ix + w]
        np.maximum(region, alpha[:region.shape[0], :region.shape[1]], out=region)
        d = np.array([ix, iy], np.float32)
        words.append(InkWord(word, quad + d, base + d, spans + d[0]))
    # crop to the ink
    ys, xs = np.nonzero(canvas.any(1))[0], np.nonzero(canvas.any(0))[0]
    cy0, cy1, cx0, cx1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    out = np.zeros((cy1 - cy0 + 2 * margin, cx1 - cx0 + 2 * margin), np.uint8)
    out[margin:margin + cy1 - cy0, margin:margin + cx1 - cx0] = canvas[cy0:cy1, cx0:cx1]
    line = InkLine(out, words, " ".join(w.text for w in words), np.zeros((0, 2), np.float32), style)
    line.shift(margin - cx0, margin - cy0)
    line.spans = _line_spans(words)
    return line


def _line_spans(words: list[InkWord]) -> np.ndarray:
    """Character spans of the joined text: word spans with each space spanning the gap between words."""
    rows = []
    for i, w in enumerate(words):
        if i:
            rows.append([rows[-1][1], max(rows[-1][1], w.spans[0, 0])])
        rows.extend(w.spans.tolist())
    return np.asarray(rows, np.float32).reshape(-1, 2)
