"""Synthetic text lines: one line per image with its transcription, word polygons and character x-spans."""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from shapely.geometry import Polygon, box

from htr.synth import text as corpus
from htr.synth.charset import fit_text
from htr.synth.fonts import FontInfo, require_fonts, size_for
from htr.synth.ink import InkLine, Style, render_ink

HANDWRITING_P = 0.75
TYPEWRITER_FACES = {"Special Elite", "Courier Prime", "Cutive Mono", "Cutive", "PT Mono", "Anonymous Pro",
                    "Cousine", "IBM Plex Mono", "Overpass Mono", "Space Mono", "DejaVu Mono", "Fira Mono"}
TYPEWRITER_P = 0.7  # of print lines in a typewriter face: wear applied
TYPED_P = 0.4  # of print lines: a typewriter face
INKS = {  # RGB ink colours: blue-black, black, iron-gall brown, blue, faded blue, pencil grey, red
    "handwriting": [(25, 30, 60), (20, 20, 20), (70, 45, 25), (20, 40, 140), (60, 80, 150), (90, 90, 95),
                    (150, 25, 25)],
    "print": [(15, 15, 15), (30, 30, 30), (45, 40, 38), (25, 30, 70)],
}


@dataclass
class LineSample:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    text: str
    words: list[tuple[str, np.ndarray]]  # (word text, (K, 2) float32 polygon) left to right
    char_spans: np.ndarray  # (len(text), 2) float32 x0, x1 of every character, spaces included
    baseline: np.ndarray  # (K, 2) float32
    font: str
    kind: str  # "handwriting" | "print"

    def to_json(self) -> dict:
        r = lambda a: np.round(np.asarray(a, np.float64), 1).tolist()  # noqa: E731
        return {"text": self.text, "kind": self.kind, "font": self.font,
                "height": int(self.image.shape[0]), "width": int(self.image.shape[1]),
                "words": [{"text": t, "polygon": r(p)} for t, p in self.words],
                "char_spans": r(self.char_spans), "baseline": r(self.baseline)}


def as_rng(rng_or_seed) -> np.random.Generator:
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(rng_or_seed)


def pick_kind(rng) -> str:
    return "handwriting" if rng.random() < HANDWRITING_P else "print"


def pick_font(rng, kind: str, fonts=None) -> FontInfo:
    """A font of ``kind``; print is a typewriter face TYPED_P of the time (typed documents are common)."""
    fonts = fonts or require_fonts(kind)
    pool = [f for f in fonts if f.kind == kind] or list(fonts)
    if kind == "print" and rng.random() < TYPED_P:
        pool = [f for f in pool if f.family in TYPEWRITER_FACES] or pool
    return pool[int(rng.integers(len(pool)))]


def sample_style(rng, font: FontInfo, size: int) -> Style:
    """Random but plausible variation for one line of the given font and pixel size."""
    hand = font.kind == "handwriting"
    return Style(
        font=font, size=size,
        stroke=int(rng.random() < (0.25 if hand else 0.1) and size >= 28),
        slant=float(rng.normal(0.05, 0.12) if hand else (rng.choice([0.0, 0.0, 0.0, 0.2]))),
        word_space=float(rng.uniform(0.8, 1.8) if hand else rng.uniform(0.9, 1.3)),
        tracking=float(rng.uniform(-0.03, 0.12) * size) if rng.random() < (0.15 if hand else 0.1) else 0.0,
        wobble=float(rng.uniform(0, 0.08) * size) if hand else 0.0,
        wobble_len=float(rng.uniform(8, 30) * size),
        jitter=float(rng.uniform(0.5, 2.0)) if hand and rng.random() < 0.7 else 0.0,
        elastic=float(rng.uniform(0.3, 1.2) * size / 32) if hand and rng.random() < 0.5 else 0.0,
        thin=bool(size >= 40 and rng.random() < 0.1),
        tilt=float(rng.normal(0, 0.012)) if hand and rng.random() < 0.6 else 0.0,
    )


def fitted_text(rng, font: FontInfo, max_chars: int, lang=None) -> str:
    """Corpus text the font can draw (characters it lacks replaced or dropped)."""
    for _ in range(5):
        text = fit_text(corpus.line_text(rng, max_chars, lang), font.charset)
        if text:
            return text
    return "note"


def decorate(rng, line: InkLine) -> None:
    """Underline a run of words or strike one through, drawing on line.alpha (no effect on geometry)."""
    r = rng.random()
    if r > 0.08 or not line.words:
        return
    size = line.style.size
    th = max(1, int(round(size / 22)))
    i = int(rng.integers(len(line.words)))
    j = i if r < 0.04 else int(rng.integers(i, len(line.words)))
    a, b = line.words[i], line.words[j]
    if r < 0.04:  # strike-through at mid x-height
        y = (a.baseline[0, 1] + a.baseline[1, 1]) / 2 - 0.25 * size
        pts = [(a.polygon[0, 0], y + rng.normal(0, 2)), (a.polygon[1, 0], y + rng.normal(0, 2))]
    else:  # underline just below the baseline
        y = max(a.baseline[0, 1], b.baseline[1, 1]) + 0.12 * size
        pts = [(a.baseline[0, 0], y), ((a.baseline[0, 0] + b.baseline[1, 0]) / 2, y + rng.normal(0, 1.5)),
               (b.baseline[1, 0], y + rng.normal(0, 1.5))]
    h, w = line.alpha.shape
    pts = np.clip(np.array(pts), 0, [w - 1, h - 1])
    cv2.polylines(line.alpha, [np.round(pts * 4).astype(np.int32)], False, 255, th, cv2.LINE_AA, shift=2)


PAPERS = [(250, 250, 248), (245, 240, 228), (238, 228, 205), (225, 215, 190), (235, 235, 235),
          (232, 238, 245), (250, 246, 220), (214, 200, 170)]


def paper_colour(rng) -> np.ndarray:
    """A paper tone (white, cream, yellowed, grey, bluish) with a little variation."""
    base = np.array(PAPERS[int(rng.integers(len(PAPERS)))], np.float32)
    return np.clip(base + rng.normal(0, 4, 3) + rng.normal(0, 6), 0, 255).astype(np.float32)


def neighbours(rng, line: InkLine, font: FontInfo, max_chars: int) -> None:
    """Widen the crop above and/or below and put fragments of neighbouring lines there (descenders of the
    line above, ascenders of the line below), as crops of real pages have them."""
    size = line.style.size
    top = int(rng.uniform(0.1, 0.35) * size) if rng.random() < 0.7 else 0
    bottom = int(rng.uniform(0.1, 0.35) * size) if rng.random() < 0.5 or not top else 0
    h, w = line.alpha.shape
    alpha = np.zeros((h + top + bottom, w), np.uint8)
    alpha[top:top + h] = line.alpha
    for place, extent in (("above", top), ("below", bottom)):
        if not extent:
            continue
        other = render_ink(rng, fitted_text(rng, font, max_chars), line.style, margin=0).alpha
        oh, ow = other.shape
        x = int(rng.integers(-ow // 4, max(1, w - ow // 2)))
        src = other[oh - extent:] if place == "above" else other[:extent]
        y0 = 0 if place == "above" else top + h
        x0, x1 = max(0, x), min(w, x + ow)
        if x1 > x0:
            alpha[y0:y0 + src.shape[0], x0:x1] = src[:, x0 - x:x1 - x]
    line.alpha = alpha
    line.shift(0, top)


def colourize(rng, alpha: np.ndarray, kind: str) -> np.ndarray:
    """RGB image of ink (alpha) on a paper tone, with uneven pressure, noise and a little blur."""
    h, w = alpha.shape
    paper = paper_colour(rng)
    inks = INKS[kind]
    ink = np.array(inks[int(rng.integers(len(inks)))], np.float32) + rng.normal(0, 8, 3).astype(np.float32)
    ink = np.clip(ink - max(0.0, 80 - (paper.mean() - ink.mean())), 0, 255)  # keep some contrast
    opacity = rng.uniform(0.75, 1.0)
    if rng.random() < 0.4:  # uneven pen pressure
        field = rng.uniform(0.6, 1.0, (2, max(2, w // 40))).astype(np.float32)
        alpha = cv2.multiply(alpha, cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR), dtype=cv2.CV_8U)
    # colour by table look-up: alpha value -> RGB
    table = paper + np.outer(np.arange(256, dtype=np.float32) * (opacity / 255), ink - paper)
    img = np.clip(table, 0, 255).astype(np.uint8)[alpha]
    if rng.random() < 0.5:
        noise = rng.standard_normal((h, w), dtype=np.float32) * np.float32(rng.uniform(2, 8))
        img = cv2.add(img, cv2.merge([noise] * 3), dtype=cv2.CV_8U)
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.4, 0.9))
    return img




def typewriter(rng, alpha: np.ndarray, size: int) -> np.ndarray:
    """Typewriter wear on a line's ink (0-255 alpha): letters struck at uneven heights, ink spread by the
    ribbon or a faded, grainy ribbon."""
    h, w = alpha.shape
    out = alpha
    if rng.random() < 0.7:  # each letter cell a pixel or two off the line
        cell = max(3, int(round(size * rng.uniform(0.5, 0.65))))
        spread = max(0.5, size * rng.uniform(0.015, 0.05))
        out = np.zeros_like(alpha)
        for x0 in range(0, w, cell):
            dy = int(np.clip(round(rng.normal(0, spread)), -3, 3))
            col = alpha[:, x0:x0 + cell]
            if dy > 0:
                out[dy:, x0:x0 + cell] = col[:h - dy]
            elif dy < 0:
                out[:h + dy, x0:x0 + cell] = col[-dy:]
            else:
                out[:, x0:x0 + cell] = col
    r = rng.random()
    if r < 0.35:  # ink spread: a heavy ribbon fills the letters out
        sigma = rng.uniform(0.4, 0.5 + size / 40)
        out = cv2.GaussianBlur(out, (0, 0), sigma)
        out = cv2.convertScaleAbs(out, alpha=rng.uniform(1.4, 2.2))
    elif r < 0.75:  # faded ribbon: patchy, grainy strokes
        field = rng.uniform(0.35, 1.0, (2, max(2, w // max(4, size)))).astype(np.float32)
        grain = (rng.random((h, w)) > rng.uniform(0.05, 0.3)).astype(np.float32)
        grain = cv2.GaussianBlur(grain, (0, 0), 0.6)
        fade = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR) * grain
        out = cv2.multiply(out.astype(np.float32), fade).astype(np.uint8)
    return out


def clip_polygon(poly: np.ndarray, w: int, h: int) -> np.ndarray:
    """The polygon clipped to the image rectangle."""
    if poly[:, 0].min() >= 0 and poly[:, 1].min() >= 0 and poly[:, 0].max() <= w and poly[:, 1].max() <= h:
        return poly
    clipped = Polygon(poly).intersection(box(0, 0, w, h))
    if clipped.is_empty or clipped.geom_type != "Polygon":
        return np.clip(poly, 0, [w, h]).astype(np.float32)
    return np.asarray(clipped.exterior.coords[:-1], np.float32)


def render_line(rng_or_seed, text: str | None = None, kind: str | None = None, fonts=None,
                size: int | None = None, tracking: float | None = None) -> LineSample:
    """One synthetic line image with its ground truth; deterministic given the seed (and the font cache).

    text: what to write (characters the chosen font lacks are replaced); default: corpus text.
    kind: "handwriting" | "print"; default: handwriting 3 times in 4. fonts: FontInfo list to choose from.
    tracking: extra space between letters in font sizes (as block capitals in form boxes); default: random.
    """
    rng = as_rng(rng_or_seed)
    kind = kind or pick_kind(rng)
    font = pick_font(rng, kind, fonts)
    size = size or size_for(font, rng.uniform(9, 26) if kind == "handwriting" else rng.uniform(7, 19))
    max_chars = int(rng.choice([8, 20, 40, 60, 70], p=[0.1, 0.15, 0.25, 0.35, 0.15]))
    line_text = fit_text(text, font.charset) if text is not None else fitted_text(rng, font, max_chars)
    style = sample_style(rng, font, size)
    if tracking is not None:
        style = replace(style, tracking=float(tracking * size))
    line = render_ink(rng, line_text, style, margin=int(rng.integers(2, 6)))
    decorate(rng, line)
    if kind == "print" and font.family in TYPEWRITER_FACES and rng.random() < TYPEWRITER_P:
        line.alpha = typewriter(rng, line.alpha, size)
    if rng.random() < 0.1:
        neighbours(rng, line, font, max_chars)
    image = colourize(rng, line.alpha, kind)
    if rng.random() < 0.08:  # a ruling under the writing
        y = int(round(float(np.median(line.baseline[:, 1])) + rng.uniform(0, 0.1) * size))
        colour = tuple(float(v) for v in rng.choice([(150, 175, 215), (170, 170, 170), (200, 150, 150)]))
        cv2.line(image, (0, y), (image.shape[1], y), colour, 1, cv2.LINE_AA)
    h, w = line.alpha.shape
    words = [(wd.text, clip_polygon(wd.polygon, w, h)) for wd in line.words]
    return LineSample(image, line.text, words, line.spans, line.baseline, font.family, kind)
