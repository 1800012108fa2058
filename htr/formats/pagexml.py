"""PAGE-XML: a lenient reader (2013 and 2019 namespaces, Transkribus and eScriptorium exports) and a strict
writer of PAGE 2019 that validates against the official schema."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import numpy as np

from htr.document import Block, Line, Page, Word, assign_ids, box_polygon, hull_polygon
from htr.errors import FormatError
from htr.formats.xmlutil import (IdMaker, child, children, clean_text, descendants, local, namespace,
                                 parse_points, parse_xml, to_string)

NS_2019 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA_LOCATION = f"{NS_2019} {NS_2019}/pagecontent.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# TextRegion/@type values the 2019 schema allows; other region kinds go into @custom.
REGION_TYPES = {
    "paragraph", "heading", "caption", "header", "footer", "page-number", "drop-capital", "credit", "floating",
    "signature-mark", "catch-word", "marginalia", "footnote", "footnote-continued", "endnote", "TOC-entry",
    "list-label", "other",
}
# Page/@primaryLanguage (a name of the schema's) of each Page.language (a code)
LANGUAGES = {"cs": "Czech", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "it": "Italian",
             "nl": "Dutch", "pt": "Portuguese"}


# ----------------------------------------------------------------------------------------------- reading

def _custom(elem: ET.Element, key: str) -> str | None:
    """A value from Transkribus' @custom, e.g. 'readingOrder {index:3;} structure {type:heading;}'."""
    match = re.search(key + r"\s*\{([^}]*)\}", elem.get("custom", ""))
    return match.group(1) if match else None


def _custom_value(elem: ET.Element, key: str, field: str) -> str | None:
    body = _custom(elem, key)
    match = re.search(field + r"\s*:\s*([^;]*)", body or "")
    return match.group(1).strip() if match else None


def _reading_index(elem: ET.Element) -> float:
    value = _custom_value(elem, "readingOrder", "index")
    if value is None:
        value = elem.get("index")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def _text_equiv(elem: ET.Element) -> tuple[str | None, float | None]:
    """The element's own TextEquiv (lowest index first): (text or None if absent, confidence)."""
    equivs = children(elem, "TextEquiv")
    if not equivs:
        return None, None
    equivs.sort(key=lambda e: int(e.get("index", 0)) if e.get("index", "0").lstrip("-").isdigit() else 0)
    unicode = child(equivs[0], "Unicode")
    return (unicode.text or "") if unicode is not None else "", _confidence(equivs[0].get("conf"))


def _confidence(text: str | None) -> float | None:
    """A conf attribute as a number; None when absent or not a finite number."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _coords(elem: ET.Element) -> np.ndarray:
    coords = child(elem, "Coords")
    return parse_points(coords.get("points")) if coords is not None else np.zeros((0, 2), np.float32)


def _read_word(elem: ET.Element) -> Word:
    text, conf = _text_equiv(elem)
    return Word(polygon=_coords(elem), text=text or "", confidence=conf, id=elem.get("id"))


def _read_line(elem: ET.Element) -> Line:
    words = [_read_word(w) for w in sorted(children(elem, "Word"), key=_reading_index)]
    text, conf = _text_equiv(elem)
    if text is None:
        text = " ".join(w.text for w in words if w.text)
    baseline_elem = child(elem, "Baseline")
    baseline = parse_points(baseline_elem.get("points")) if baseline_elem is not None else None
    polygon = _coords(elem)
    if len(polygon) < 3 and baseline is not None and len(baseline):
        polygon = hull_polygon([baseline])
    return Line(polygon=polygon, text=text, confidence=conf,
                baseline=baseline if baseline is not None and len(baseline) else None,
                words=words, id=elem.get("id"), kind=_custom_value(elem, "structure", "type"))


def _region_order(page_elem: ET.Element) -> list[str]:
    """Region ids in the order the ReadingOrder element gives (nested groups flattened)."""
    order = child(page_elem, "ReadingOrder")
    if order is None:
        return []

    def walk(group: ET.Element) -> list[str]:
        refs = [c for c in group if local(c.tag) in ("RegionRefIndexed", "OrderedGroupIndexed",
                                                     "UnorderedGroupIndexed", "RegionRef", "OrderedGroup",
                                                     "UnorderedGroup")]
        refs.sort(key=lambda c: int(c.get("index", 0)) if c.get("index", "0").isdigit() else 0)
        ids = []
        for ref in refs:
            if ref.get("regionRef") and local(ref.tag).startswith("RegionRef"):
                ids.append(ref.get("regionRef"))
            else:
                ids.extend(walk(ref))
        return ids

    return [i for group in order for i in walk(group)]


def read_page_xml(source, clip: bool = True) -> Page:
    """A Page from PAGE-XML (a path, bytes or text); text regions in reading order, lines in order;
    ``clip``: polygons clipped into the page's declared size."""
    root = parse_xml(source)
    if local(root.tag) != "PcGts":
        raise FormatError(f"not PAGE-XML: root element is <{local(root.tag)}>")
    page_elem = child(root, "Page")
    if page_elem is None:
        raise FormatError("PAGE-XML without a <Page> element")
    try:
        width, height = int(float(page_elem.get("imageWidth", 0))), int(float(page_elem.get("imageHeight", 0)))
    except (ValueError, OverflowError) as err:
        raise FormatError(f"PAGE-XML: bad image size ({err})") from err

    regions = descendants(page_elem, "TextRegion")
    rank = {rid: i for i, rid in enumerate(_region_order(page_elem))}
    # Regions named by the ReadingOrder first, in its order; the rest after them, in their custom or file order.
    regions = sorted(enumerate(regions),
                     key=lambda ir: (rank.get(ir[1].get("id"), len(rank)), _reading_index(ir[1]), ir[0]))
    blocks = []
    for _, region in regions:
        lines = [_read_line(e) for e in sorted(children(region, "TextLine"), key=_reading_index)]
        polygon = _coords(region)
        if len(polygon) < 3:
            polygon = hull_polygon([line.polygon for line in lines])
        kind = region.get("type") or _custom_value(region, "structure", "type")
        blocks.append(Block(polygon=polygon, lines=lines, id=region.get("id"), kind=kind))
    codes = {name: code for code, name in LANGUAGES.items()}
    page = Page(width=width, height=height, blocks=blocks, source=page_elem.get("imageFilename"),
                language=codes.get(page_elem.get("primaryLanguage")))
    return assign_ids(page.clip_to_image() if clip else page)


def is_page_xml(root: ET.Element) -> bool:
    return local(root.tag) == "PcGts" and "primaresearch.org/PAGE" in namespace(root.tag)


# ----------------------------------------------------------------------------------------------- writing

def _points(polygon: np.ndarray) -> str:
    """PAGE points: non-negative integers, at least two points (a degenerate shape becomes a 1-px box)."""
    pts = np.clip(np.rint(polygon), 0, None).astype(np.int64)
    if len(pts) < 2:
        x, y = (pts[0] if len(pts) else (0, 0))
        pts = box_polygon(x, y, x + 1, y + 1).astype(np.int64)
    return " ".join(f"{x},{y}" for x, y in pts)


def _stripped_join(texts, sep: str) -> str:
    """Texts joined as a PAGE consumer checks them: each stripped, joined by ``sep``, stripped."""
    return sep.join(t.strip() for t in texts).strip()


def _sub(parent: ET.Element, name: str, **attrs) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS_2019}}}{name}", {k: v for k, v in attrs.items() if v is not None})


def _equiv(parent: ET.Element, text: str, confidence: float | None) -> None:
    conf = None if confidence is None else f"{min(max(float(confidence), 0.0), 1.0):.4g}"
    _sub(parent, "TextEquiv", conf=conf)
    _sub(parent[-1], "Unicode").text = clean_text(text)


def write_page_xml(page: Page, creator: str | None = None, created: datetime | None = None) -> str:
    """The page as PAGE-XML 2019 text (valid against pagecontent-2019-07-15.xsd).

    ``created`` stamps Created and LastChange (default: now); a fixed value makes the output reproducible.
    Elements keep their ids (``htr.document.assign_ids`` fills in the missing ones, in place). A line's words
    carry their text where they spell the line's text (else only their outline); a region's text is its lines'.
    """
    from htr import __version__

    ET.register_namespace("", NS_2019)
    ET.register_namespace("xsi", XSI)
    root = ET.Element(f"{{{NS_2019}}}PcGts", {f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION})
    meta = _sub(root, "Metadata")
    now = (created or datetime.now(timezone.utc)).replace(microsecond=0).isoformat()
    _sub(meta, "Creator").text = creator or f"htr {__version__}"
    _sub(meta, "Created").text = now
    _sub(meta, "LastChange").text = now
    page_elem = _sub(root, "Page", imageFilename=page.source or "", imageWidth=str(int(page.width)),
                     imageHeight=str(int(page.height)), primaryLanguage=LANGUAGES.get(page.language))
    assign_ids(page)
    ids = IdMaker(e.id for e in page.elements())
    if page.blocks:
        group = _sub(_sub(page_elem, "ReadingOrder"), "OrderedGroup", id=ids("ro"), caption="Regions reading order")
        for index, block in enumerate(page.blocks):
            _sub(group, "RegionRefIndexed", index=str(index), regionRef=block.id)
    for block in page.blocks:
        kind = block.kind
        region = _sub(page_elem, "TextRegion", id=block.id, type=kind if kind in REGION_TYPES else None,
                      custom=f"structure {{type:{kind};}}" if kind and kind not in REGION_TYPES else None)
        polygon = block.polygon if len(block.polygon) >= 3 else hull_polygon([ln.polygon for ln in block.lines])
        _sub(region, "Coords", points=_points(polygon))
        texts = []
        for index, line in enumerate(block.lines):
            custom = f"readingOrder {{index:{index};}}"
            if line.kind:
                custom += f" structure {{type:{line.kind};}}"
            line_elem = _sub(region, "TextLine", id=line.id, custom=custom)
            _sub(line_elem, "Coords", points=_points(line.polygon))
            if line.baseline is not None and len(line.baseline):
                _sub(line_elem, "Baseline", points=_points(line.baseline))
            text = line.text or " ".join(w.text for w in line.words if w.text)
            # Words carry their text only where they spell the line's: a line's text is its words' text.
            spelled = _stripped_join((w.text for w in line.words), " ") == text.strip()
            for windex, word in enumerate(line.words):
                word_elem = _sub(line_elem, "Word", id=word.id, custom=f"readingOrder {{index:{windex};}}")
                _sub(word_elem, "Coords", points=_points(word.polygon))
                if spelled:
                    _equiv(word_elem, word.text, word.confidence)
            _equiv(line_elem, text, line.confidence)
            texts.append(text)
        if block.lines:
            _equiv(region, _stripped_join(texts, "\n"), None)
    return to_string(root)
