"""hOCR 1.2: a writer of well-formed XHTML (ocr_page, ocr_carea, ocr_par, ocr_line, ocrx_word with bbox, poly,
baseline and x_wconf) and a reader for hOCR from htr or other engines (Tesseract, kraken)."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np

from htr.document import Block, Line, Page, Word, assign_ids, bbox_of, box_polygon, hull_polygon
from htr.formats.xmlutil import clean_text

XHTML = "http://www.w3.org/1999/xhtml"
DOCTYPE = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
           '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">')
LINE_CLASSES = {"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"}


# ----------------------------------------------------------------------------------------------- writing

def _bbox(polygon: np.ndarray) -> str:
    x0, y0, x1, y1 = bbox_of(polygon)
    return f"bbox {int(np.floor(x0))} {int(np.floor(y0))} {int(np.ceil(x1))} {int(np.ceil(y1))}"


def _poly(polygon: np.ndarray) -> str:
    return "poly " + " ".join(f"{int(round(x))} {int(round(y))}" for x, y in polygon)


def _baseline(baseline: np.ndarray, polygon: np.ndarray) -> str:
    """hOCR 'baseline slope offset': a straight fit, relative to the bottom-left corner of the line's bbox."""
    x0, _, _, y1 = bbox_of(polygon)
    xs, ys = baseline[:, 0] - x0, baseline[:, 1] - y1
    slope = float(np.polyfit(xs, ys, 1)[0]) if np.ptp(xs) > 0 else 0.0
    offset = float(np.mean(ys - slope * xs))
    return f"baseline {slope:.4g} {offset:.4g}"


def _title(*props: str | None) -> str:
    return "; ".join(p for p in props if p)


def _wconf(confidence: float | None) -> str | None:
    return None if confidence is None else f"x_wconf {100 * min(max(float(confidence), 0.0), 1.0):.0f}"


def _el(parent: ET.Element, tag: str, cls: str, elem_id: str, title: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{XHTML}}}{tag}", {"class": cls, "id": elem_id, "title": title})


def write_hocr(page: Page, page_number: int = 1) -> str:
    """The page as hOCR: XHTML 1.0 that an XML parser and a browser both read; blocks, lines and words keep
    their ids (``htr.document.assign_ids``), a block's paragraph is BLOCKID_par."""
    from htr import __version__

    assign_ids(page)
    ET.register_namespace("", XHTML)
    root = ET.Element(f"{{{XHTML}}}html", {"xml:lang": "en", "lang": "en"})
    head = ET.SubElement(root, f"{{{XHTML}}}head")
    ET.SubElement(head, f"{{{XHTML}}}title").text = page.source or "htr output"
    ET.SubElement(head, f"{{{XHTML}}}meta", {"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"})
    ET.SubElement(head, f"{{{XHTML}}}meta", {"name": "ocr-system", "content": f"htr {__version__}"})
    ET.SubElement(head, f"{{{XHTML}}}meta", {
        "name": "ocr-capabilities",
        "content": "ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_poly ocrp_wconf"})
    body = ET.SubElement(root, f"{{{XHTML}}}body")
    image = f'image "{page.source}"' if page.source else None
    p = page_number
    page_div = _el(body, "div", "ocr_page", f"page_{p}",
                   _title(image, _bbox(box_polygon(0, 0, page.width, page.height)), f"ppageno {p - 1}"))
    if page.language:
        page_div.set("lang", page.language)
    for block in page.blocks:
        polygon = block.polygon if len(block.polygon) else hull_polygon([ln.polygon for ln in block.lines])
        area = _el(page_div, "div", "ocr_carea", block.id, _bbox(polygon))
        par = _el(area, "p", "ocr_par", f"{block.id}_par", _bbox(polygon))
        for line in block.lines:
            baseline = (_baseline(line.baseline, line.polygon)
                        if line.baseline is not None and len(line.baseline) >= 2 and len(line.polygon) else None)
            span = _el(par, "span", "ocr_line", line.id,
                       _title(_bbox(line.polygon), baseline, _poly(line.polygon) if len(line.polygon) >= 3 else None,
                              _wconf(line.confidence)))
            words = [w for w in line.words if w.text]
            if words:
                for word in words:
                    word_span = _el(span, "span", "ocrx_word", word.id,
                                    _title(_bbox(word.polygon),
                                           _poly(word.polygon) if len(word.polygon) >= 3 else None,
                                           _wconf(word.confidence)))
                    word_span.text = clean_text(word.text)
                    word_span.tail = " "
                word_span.tail = None
            else:
                span.text = clean_text(line.text)
            span.tail = "\n"
    ET.indent(head, space="  ", level=1)
    text = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{DOCTYPE}\n{text}\n'


# ----------------------------------------------------------------------------------------------- reading

def _parse_title(title: str) -> dict[str, str]:
    props = {}
    for part in title.split(";"):
        key, _, value = part.strip().partition(" ")
        if key:
            props[key] = value.strip()
    return props


def _numbers(text: str) -> list[float]:
    """The numbers of a title property; [] when one is not a finite number (the property is then ignored)."""
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        return []
    with np.errstate(over="ignore"):
        return values if np.isfinite(np.asarray(values, np.float32)).all() else []


def _geometry(props: dict[str, str]) -> np.ndarray:
    if "poly" in props:
        values = _numbers(props["poly"])
        if len(values) >= 6 and len(values) % 2 == 0:
            return np.asarray(values, np.float32).reshape(-1, 2)
    if "bbox" in props:
        values = _numbers(props["bbox"])[:4]
        if len(values) == 4:
            return finite_or_empty(box_polygon(*values))
    return np.zeros((0, 2), np.float32)


def finite_or_empty(polygon: np.ndarray) -> np.ndarray:
    return polygon if np.isfinite(polygon).all() else np.zeros((0, 2), np.float32)


def _confidence(props: dict[str, str]) -> float | None:
    values = _numbers(props.get("x_wconf", ""))
    return values[0] / 100 if values else None


class _HocrParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.page_props: dict[str, str] = {}
        self.language: str | None = None  # the ocr_page's lang
        self.blocks: list[Block] = []
        self.line: Line | None = None
        self.word: Word | None = None
        self.line_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").split())
        props = _parse_title(html.unescape(attrs.get("title") or ""))
        if tag not in ("br", "img", "meta", "link", "input", "hr"):
            self.stack.append((tag, classes))
        if "ocr_page" in classes:
            self.page_props, self.language = props, attrs.get("lang")
        elif "ocr_carea" in classes:
            self.blocks.append(Block(polygon=_geometry(props), id=attrs.get("id")))
        elif classes & LINE_CLASSES:
            if not self.blocks:
                self.blocks.append(Block(polygon=np.zeros((0, 2), np.float32)))
            self.line = Line(polygon=_geometry(props), confidence=_confidence(props), id=attrs.get("id"),
                             kind=next(iter(classes & LINE_CLASSES)))
            self.line_text = []
            self.blocks[-1].lines.append(self.line)
        elif "ocrx_word" in classes and self.line is not None:
            self.word = Word(polygon=_geometry(props), confidence=_confidence(props), id=attrs.get("id"))
            self.line.words.append(self.word)

    def handle_endtag(self, tag):
        while self.stack:
            open_tag, classes = self.stack.pop()
            if "ocrx_word" in classes:
                self.word = None
            if classes & LINE_CLASSES and self.line is not None:
                words = [w.text for w in self.line.words if w.text]
                self.line.text = " ".join(words) if words else " ".join("".join(self.line_text).split())
                self.line = None
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.word is not None:
            self.word.text += data.strip()
        elif self.line is not None:
            self.line_text.append(data)


def read_hocr(text: str) -> Page:
    """A Page from hOCR text (the first ocr_page); blocks are ocr_carea, lines ocr_line and kin."""
    parser = _HocrParser()
    parser.feed(text)
    parser.close()
    bbox = [int(v) for v in (_numbers(parser.page_props.get("bbox", "")) + [0, 0, 0, 0])[:4]]
    image = re.match(r'"([^"]*)"', parser.page_props.get("image", ""))
    for block in parser.blocks:
        if not len(block.polygon):
            block.polygon = hull_polygon([line.polygon for line in block.lines])
    blocks = [b for b in parser.blocks if b.lines]
    return assign_ids(Page(width=bbox[2] - bbox[0], height=bbox[3] - bbox[1], blocks=blocks,
                           source=image.group(1) if image else None, language=parser.language))
