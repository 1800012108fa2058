"""ALTO: a lenient reader (v2 to v4, eScriptorium exports with tags) and a strict ALTO v4 writer that validates
against alto-4-4.xsd."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np

from htr.document import Block, Line, Page, Word, assign_ids, bbox_of, box_polygon, hull_polygon
from htr.errors import FormatError
from htr.formats.xmlutil import (IdMaker, child, children, clean_text, descendants, finite, fmt_number, local,
                                 parse_points, parse_xml, to_string)

NS_V4 = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA_LOCATION = f"{NS_V4} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


# ----------------------------------------------------------------------------------------------- reading

def _float(elem: ET.Element, name: str) -> float | None:
    """A number attribute; None when absent, not a number or not finite."""
    try:
        value = float(elem.get(name))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _shape(elem: ET.Element) -> np.ndarray:
    """An element's polygon: its Shape/Polygon when present, else its HPOS/VPOS/WIDTH/HEIGHT rectangle."""
    shape = child(elem, "Shape")
    polygon = child(shape, "Polygon") if shape is not None else None
    if polygon is not None:
        points = parse_points(polygon.get("POINTS"))
        if len(points) >= 3:
            return points
    x, y, w, h = (_float(elem, k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
    if None in (x, y, w, h):
        return np.zeros((0, 2), np.float32)
    with np.errstate(over="ignore"):  # beyond float32: inf, refused by finite()
        return finite(box_polygon(x, y, x + w, y + h), elem.get("HPOS"))


def _baseline(line_elem: ET.Element, polygon: np.ndarray) -> np.ndarray | None:
    """BASELINE as a polyline (ALTO >= 4.2), or a single y (older ALTO) drawn across the line's box."""
    points = parse_points(line_elem.get("BASELINE"))
    if len(points) >= 2:
        return points
    y = _float(line_elem, "BASELINE")
    if y is None or not len(polygon):
        return None
    x0, _, x1, _ = bbox_of(polygon)
    return np.array([[x0, y], [x1, y]], np.float32)


def _tag_labels(root: ET.Element) -> dict[str, str]:
    tags = child(root, "Tags")
    if tags is None:
        return {}
    return {t.get("ID"): t.get("LABEL") or t.get("ID") for t in tags if t.get("ID")}


def _kind(elem: ET.Element, labels: dict[str, str]) -> str | None:
    refs = (elem.get("TAGREFS") or "").split()
    return labels.get(refs[0], refs[0]) if refs else None


def _read_line(elem: ET.Element, labels: dict[str, str]) -> Line:
    polygon = _shape(elem)
    strings = children(elem, "String")
    parts, words = [], []
    for s in strings:
        content = s.get("CONTENT", "")
        parts.append(content)
        wc = _float(s, "WC")
        words.append(Word(polygon=_shape(s), text=content, confidence=wc, id=s.get("ID")))
    hyphen = child(elem, "HYP")
    text = " ".join(parts) + (hyphen.get("CONTENT", "") if hyphen is not None else "")
    confidence = None
    # A String holding spaces is a whole line's text (as eScriptorium writes it), not a word.
    if any(any(ch.isspace() for ch in p) for p in parts) or (len(words) == 1 and not len(words[0].polygon)):
        confidence = words[0].confidence if len(words) == 1 else None
        words = []
    words = [w for w in words if w.text]
    if len(polygon) < 3:
        polygon = hull_polygon([w.polygon for w in words])
    return Line(polygon=polygon, text=text, confidence=confidence, baseline=_baseline(elem, polygon),
                words=words, id=elem.get("ID"), kind=_kind(elem, labels))


def read_alto(source, clip: bool = True) -> Page:
    """A Page from ALTO (a path, bytes or text): text blocks and lines in document order; ``clip``: polygons
    clipped into the page's declared size."""
    root = parse_xml(source)
    if local(root.tag) != "alto":
        raise FormatError(f"not ALTO: root element is <{local(root.tag)}>")
    layout = child(root, "Layout")
    page_elem = child(layout, "Page") if layout is not None else None
    if page_elem is None:
        raise FormatError("ALTO without a <Layout><Page> element")
    unit = child(child(root, "Description") or ET.Element("x"), "MeasurementUnit")
    if unit is not None and (unit.text or "pixel").strip() != "pixel":
        raise FormatError(f"ALTO in {unit.text.strip()} units: only pixel coordinates are supported")
    labels = _tag_labels(root)
    blocks = []
    for block_elem in descendants(page_elem, "TextBlock"):
        lines = [_read_line(e, labels) for e in children(block_elem, "TextLine")]
        polygon = _shape(block_elem)
        if len(polygon) < 3:
            polygon = hull_polygon([line.polygon for line in lines])
        blocks.append(Block(polygon=polygon, lines=lines, id=block_elem.get("ID"), kind=_kind(block_elem, labels)))
    file_name = next((e.text.strip() for e in descendants(root, "fileName") if e.text), None)
    page = Page(width=int(_float(page_elem, "WIDTH") or 0), height=int(_float(page_elem, "HEIGHT") or 0),
                blocks=blocks, source=file_name, language=page_elem.get("LANG"))
    return assign_ids(page.clip_to_image() if clip else page)


# ----------------------------------------------------------------------------------------------- writing

def _sub(parent: ET.Element, name: str, **attrs) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS_V4}}}{name}", {k: v for k, v in attrs.items() if v is not None})


def _points(polygon: np.ndarray) -> str:
    return " ".join(f"{fmt_number(x)} {fmt_number(y)}" for x, y in polygon)


def _box(polygon: np.ndarray) -> dict[str, str]:
    x0, y0, x1, y1 = bbox_of(polygon)
    return {"HPOS": fmt_number(x0), "VPOS": fmt_number(y0), "WIDTH": fmt_number(x1 - x0),
            "HEIGHT": fmt_number(y1 - y0)}


def _shaped(parent: ET.Element, name: str, polygon: np.ndarray, **attrs) -> ET.Element:
    elem = _sub(parent, name, **(_box(polygon) if len(polygon) else {}), **attrs)
    if len(polygon) >= 3:
        _sub(_sub(elem, "Shape"), "Polygon", POINTS=_points(polygon))
    return elem


def _wc(confidence: float | None) -> str | None:
    return None if confidence is None else f"{min(max(float(confidence), 0.0), 1.0):.4g}"


def write_alto(page: Page) -> str:
    """The page as ALTO v4 text (valid against alto-4-4.xsd).

    A line whose words spell its text is written as one String per word; any other line as a single String
    holding the line's text, so the line text always survives a round trip. Blocks, lines and words keep
    their ids (``htr.document.assign_ids`` fills in the missing ones, in place).
    """
    from htr import __version__

    ET.register_namespace("", NS_V4)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{NS_V4}}}alto", {f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION})
    description = _sub(root, "Description")
    _sub(description, "MeasurementUnit").text = "pixel"
    _sub(_sub(description, "sourceImageInformation"), "fileName").text = page.source or ""
    software = _sub(_sub(_sub(description, "OCRProcessing", ID="ocr_0"), "ocrProcessingStep"), "processingSoftware")
    _sub(software, "softwareName").text = "htr"
    _sub(software, "softwareVersion").text = __version__

    assign_ids(page)
    ids = IdMaker(e.id for e in page.elements())
    kinds = sorted({e.kind for b in page.blocks for e in [b, *b.lines] if e.kind})
    tag_ids = {kind: ids("tag") for kind in kinds}
    if kinds:
        tags = _sub(root, "Tags")
        for kind in kinds:
            _sub(tags, "OtherTag", ID=tag_ids[kind], LABEL=kind, DESCRIPTION=f"type {kind}")

    page_elem = _sub(_sub(root, "Layout"), "Page", ID=ids("page"), PHYSICAL_IMG_NR="1",
                     WIDTH=str(int(page.width)), HEIGHT=str(int(page.height)), LANG=page.language)
    space = _sub(page_elem, "PrintSpace", HPOS="0", VPOS="0", WIDTH=str(int(page.width)),
                 HEIGHT=str(int(page.height)))
    for block in page.blocks:
        polygon = block.polygon if len(block.polygon) >= 3 else hull_polygon([ln.polygon for ln in block.lines])
        block_elem = _shaped(space, "TextBlock", polygon, ID=block.id, TAGREFS=tag_ids.get(block.kind))
        for line in block.lines:
            baseline = _points(line.baseline) if line.baseline is not None and len(line.baseline) >= 2 else None
            line_elem = _shaped(block_elem, "TextLine", line.polygon, ID=line.id,
                                BASELINE=baseline, TAGREFS=tag_ids.get(line.kind))
            words = [w for w in line.words if w.text]
            if words and " ".join(w.text for w in words) == line.text and all(" " not in w.text for w in words):
                for i, word in enumerate(words):
                    if i:
                        _sub(line_elem, "SP")
                    _shaped(line_elem, "String", word.polygon, ID=word.id,
                            CONTENT=clean_text(word.text), WC=_wc(word.confidence))
            else:
                # Line-level String: its geometry is the line's own (attributes only; no Shape repeated).
                _sub(line_elem, "String", ID=ids(f"{line.id}_s"), CONTENT=clean_text(line.text),
                     WC=_wc(line.confidence), **(_box(line.polygon) if len(line.polygon) else {}))
    return to_string(root)
