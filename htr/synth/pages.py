"""Synthetic pages: a layout written in print and handwriting on paper, a stamp, page-level degradations,
and the exact ground truth as an htr Page (blocks, lines, words, baselines in reading order)."""
from __future__ import annotations

from datetime import datetime, timezone

import cv2
import numpy as np

from htr.document import Block, Line, Page, Word, hull_polygon
from htr.synth import augment
from htr.synth import text as corpus
from htr.synth.canvas import PageCanvas, Writer, make_writer
from htr.synth.layouts import LAYOUTS
from htr.synth.fonts import size_for
from htr.synth.lines import as_rng, pick_font

STAMP_WORDS = {"en": ["RECEIVED", "PAID", "COPY", "APPROVED", "FILED"], "fr": ["REÇU", "PAYÉ", "COPIE", "VU"],
               "de": ["EINGANG", "BEZAHLT", "KOPIE", "ERLEDIGT"], "es": ["RECIBIDO", "PAGADO", "COPIA"]}
STAMP_INKS = [(170, 30, 40), (40, 60, 160), (110, 40, 120), (40, 110, 60)]
COLOURED_PAPERS = [(170, 192, 228), (196, 222, 196), (238, 200, 205), (245, 228, 150), (200, 185, 160)]
# x-height of the handwriting as a share of the page height: (probability, low, high); typed text scales by
# the square root of the hand's factor. At 2,000 px: 15-24 px usually, up to 80 px large, 10-14 px tiny.
WRITING_SCALES = {"normal": (0.75, 0.0075, 0.012), "large": (0.15, 0.018, 0.04), "tiny": (0.10, 0.005, 0.007)}


def stamp(c: PageCanvas, rng, typed: Writer, lang: str) -> None:
    """A rotated rubber stamp (one or two printed lines in a frame), as a block of kind "stamp"."""
    font = typed.style.font
    w = make_writer(rng, font, int(typed.size * rng.uniform(1.0, 1.4)), STAMP_INKS[int(rng.integers(4))])
    w.style.slant, w.style.jitter, w.style.elastic, w.style.wobble = 0.0, 0.0, 0.0, 0.0
    w.opacity = float(rng.uniform(0.55, 0.85))
    texts = [str(rng.choice(STAMP_WORDS[lang]))]
    if rng.random() < 0.7:
        texts.append(corpus.date(rng, lang))
    inks = [c.render(t, w) for t in texts]
    if any(i is None for i in inks):
        return
    pad = int(w.size * 0.4)
    bw = max(i.alpha.shape[1] for i in inks) + 2 * pad
    bh = sum(i.alpha.shape[0] for i in inks) + 2 * pad
    alpha = np.zeros((bh, bw), np.uint8)
    y = pad
    for ink in inks:
        x = (bw - ink.alpha.shape[1]) // 2
        alpha[y:y + ink.alpha.shape[0], x:x + ink.alpha.shape[1]] = ink.alpha
        ink.shift(x, y)
        y += ink.alpha.shape[0]
    cv2.rectangle(alpha, (2, 2), (bw - 3, bh - 3), 255, max(2, w.size // 12))
    angle = float(rng.uniform(-25, 25))
    diag = int(np.hypot(bw, bh)) + 4
    rot = cv2.getRotationMatrix2D((bw / 2, bh / 2), angle, 1.0)
    rot[:, 2] += ((diag - bw) / 2, (diag - bh) / 2)
    alpha = cv2.warpAffine(alpha, rot, (diag, diag))
    alpha = (alpha * (rng.uniform(0.6, 1.0, (diag // 8 + 1, diag // 8 + 1)).repeat(8, 0).repeat(8, 1)
                      [:diag, :diag])).astype(np.uint8)  # uneven inking
    x0 = int(rng.uniform(0.05, 0.95) * max(1, c.width - diag))
    y0 = int(rng.uniform(0.05, 0.95) * max(1, c.height - diag))
    if not c.paste(alpha, x0, y0, w):
        return
    move = lambda p: (p @ rot[:, :2].T + rot[:, 2] + (x0, y0)).astype(np.float32)  # noqa: E731
    lines = []
    for ink in inks:
        words = [Word(polygon=move(wd.polygon), text=wd.text) for wd in ink.words]
        lines.append(Line(polygon=move(ink.polygon), text=ink.text, baseline=move(ink.baseline), words=words,
                          kind="print"))
    c.blocks.append(Block(polygon=hull_polygon([ln.polygon for ln in lines]), lines=lines, kind="stamp"))


def render_page(rng_or_seed, layout: str | None = None, degrade: bool = True, fonts=None,
                return_ink: bool = False, writing: str | None = None):
    """A synthetic page: (uint8 RGB image, htr Page with its ground truth in the image's pixels).

    layout: one of LAYOUTS (default: random). writing: one of WRITING_SCALES (default: drawn by their
    probabilities). degrade=False skips coloured paper, stains, holes, rotation, lighting and scanner effects.
    fonts: FontInfo list to draw from (default: all usable fonts in the cache). return_ink: also return the
    (H, W) uint8 mask of the text ink, moved like the image (for checks).
    """
    rng = as_rng(rng_or_seed)
    layout = layout or str(rng.choice(list(LAYOUTS)))
    height = int(rng.uniform(1800, 2100))
    width = int(height * rng.uniform(0.68, 0.78))
    c = PageCanvas(rng, width, height)
    if degrade and rng.random() < 0.12:
        c.paper = np.array(COLOURED_PAPERS[int(rng.integers(len(COLOURED_PAPERS)))], np.float32) + \
            rng.normal(0, 6, 3).astype(np.float32)
        c.image[:] = c.paper
    if degrade:
        augment.paper_texture(rng, c.image)
    lang = corpus.pick_lang(rng)
    hand_font, print_font = pick_font(rng, "handwriting", fonts), pick_font(rng, "print", fonts)
    names = list(WRITING_SCALES)
    scale = int(rng.choice(len(names), p=[share for share, _, _ in WRITING_SCALES.values()]))
    _, low, high = WRITING_SCALES[writing or names[scale]]
    x_share = rng.uniform(low, high)
    hand = make_writer(rng, hand_font, size_for(hand_font, x_share * height, lo=8, hi=240))
    typed_share = rng.uniform(0.0058, 0.0075) * np.sqrt(x_share / 0.0095)
    typed = make_writer(rng, print_font, size_for(print_font, typed_share * height, lo=8))
    kwargs = {}
    if layout in ("letter", "notes") and rng.random() < 0.5:
        pitch = hand.line_height() * rng.uniform(1.0, 1.2)
        top = height * rng.uniform(0.08, 0.12)
        margin_x = width * rng.uniform(0.06, 0.1) if rng.random() < 0.5 else None
        augment.rulings(c, rng, pitch, top, squared=rng.random() < 0.35, margin_x=margin_x)
        kwargs = {"pitch": pitch, "top": top}
    LAYOUTS[layout](c, rng, hand, typed, lang, **kwargs)
    if rng.random() < 0.2:
        stamp(c, rng, typed, lang)
    page = Page(width=width, height=height, blocks=c.blocks)
    image = c.image
    if degrade:
        if rng.random() < 0.3:
            augment.bleed_through(rng, image, c.ink)
        if rng.random() < 0.25:
            augment.stains(rng, image)
        if rng.random() < 0.2:
            augment.punch_holes(rng, image)
        augment.lighting(rng, image)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if degrade:
        image, m = augment.geometric(rng, image)
        image = augment.scanner(rng, image)
        h, w = image.shape[:2]
        m = np.diag([w / width, h / height, 1.0]) @ m
        augment.transform_page(page, m, w, h)
    page.clip_to_image()
    if not return_ink:
        return image, page
    ink = c.ink if not degrade else cv2.warpPerspective(c.ink, m, (page.width, page.height))
    return image, page, ink


def render_blank_page(rng_or_seed) -> tuple[np.ndarray, Page]:
    """A page with no text: paper (sometimes ruled or squared), stains, filing holes, lighting and a scan;
    (uint8 RGB image, its empty Page). A detector should find nothing on it."""
    rng = as_rng(rng_or_seed)
    height = int(rng.uniform(1800, 2100))
    width = int(height * rng.uniform(0.68, 0.78))
    c = PageCanvas(rng, width, height)
    if rng.random() < 0.2:
        c.image[:] = np.array(COLOURED_PAPERS[int(rng.integers(len(COLOURED_PAPERS)))], np.float32)
    augment.paper_texture(rng, c.image)
    if rng.random() < 0.3:
        augment.rulings(c, rng, rng.uniform(0.025, 0.04) * height, height * rng.uniform(0.08, 0.12),
                        squared=rng.random() < 0.35, margin_x=width * 0.08 if rng.random() < 0.5 else None)
    augment.stains(rng, c.image)
    if rng.random() < 0.5:
        augment.punch_holes(rng, c.image)
    augment.lighting(rng, c.image)
    image, _ = augment.geometric(rng, np.clip(c.image, 0, 255).astype(np.uint8))
    image = augment.scanner(rng, image)
    return image, Page(width=image.shape[1], height=image.shape[0])


def page_xml(page: Page) -> str:
    """PAGE-XML 2019 of the page, with fixed metadata dates so that the same page gives the same bytes."""
    from htr.formats.pagexml import write_page_xml

    return write_page_xml(page, creator="htr synth", created=datetime(2000, 1, 1, tzinfo=timezone.utc))
