"""Synthetic handwriting and print: text lines and full pages with exact ground truth.

    from htr.synth import render_line, render_page
    sample = render_line(seed)          # LineSample: image, text, word polygons, char x-spans, font, kind
    image, page = render_page(seed)     # uint8 RGB page and its htr.document.Page

Fonts come from the pinned manifest (`htr synth fonts` fetches them once into the cache); both functions are
deterministic given the seed and the fonts in the cache, and safe to call in DataLoader worker processes.
"""
from htr.synth.lines import LineSample, render_line
from htr.synth.pages import page_xml, render_page

__all__ = ["LineSample", "render_line", "render_page", "page_xml"]
