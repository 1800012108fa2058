"""Small helpers shared by the XML readers and writers."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml.ElementTree as defused
import numpy as np
from defusedxml import DefusedXmlException

from htr.errors import FormatError

# Characters XML 1.0 cannot carry (C0 controls other than tab, newline, carriage return).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_xml(source) -> ET.Element:
    """The root element of an XML document given as a path, bytes or text; FormatError if malformed.

    Documents come from other people's archives: entity declarations (entity expansion, external entities
    that would read local files or URLs) are refused (``defusedxml``), a DTD without them is allowed."""
    where = f"{source}: " if isinstance(source, Path) else ""
    try:
        if isinstance(source, Path):
            return defused.parse(source).getroot()
        return defused.fromstring(source)
    except DefusedXmlException as err:
        raise FormatError(f"{where}XML refused: it declares entities, which htr does not expand ({err})") from err
    except (ET.ParseError, LookupError, ValueError) as err:  # LookupError: an encoding Python does not know
        raise FormatError(f"{where}malformed XML ({' '.join(str(err).split()) or type(err).__name__})") from err
    except OSError as err:
        raise FormatError(f"{where}cannot read ({err.strerror or err})") from err


def local(tag: str) -> str:
    """An element's tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def children(elem: ET.Element, name: str) -> list[ET.Element]:
    """Direct children with this local name, whatever their namespace."""
    return [c for c in elem if local(c.tag) == name]


def child(elem: ET.Element, name: str) -> ET.Element | None:
    found = children(elem, name)
    return found[0] if found else None


def descendants(elem: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in elem.iter() if local(e.tag) == name]


def parse_points(text: str | None) -> np.ndarray:
    """'x,y x,y ...' (PAGE) or 'x y x y ...' (ALTO) as a float32 (K, 2) array; empty when absent or odd."""
    if not text:
        return np.zeros((0, 2), np.float32)
    try:
        values = [float(v) for v in re.split(r"[\s,]+", text.strip()) if v]
    except ValueError as err:
        raise FormatError(f"bad coordinates {text[:60]!r}") from err
    if len(values) % 2:
        values = values[:-1]
    with np.errstate(over="ignore"):  # beyond float32: inf, refused by finite()
        points = np.asarray(values, np.float32).reshape(-1, 2)
    return finite(points, text)


def finite(points: np.ndarray, text=None) -> np.ndarray:
    """The points as they are; FormatError when one is not a finite number in float32 (NaN, inf, 1e39)."""
    if not np.isfinite(points).all():
        shown = f" {str(text)[:60]!r}" if text is not None else ""
        raise FormatError(f"bad coordinates{shown}: not finite numbers")
    return points


def fmt_number(value: float) -> str:
    """A coordinate as text: an integer where it is one, else up to two decimals."""
    rounded = round(float(value), 2)
    return str(int(rounded)) if rounded.is_integer() else f"{rounded:g}"


def clean_text(text: str) -> str:
    """Text with the characters XML cannot hold removed."""
    return _XML_ILLEGAL.sub("", text)


class IdMaker:
    """Hands out XML IDs for what a writer adds beside the document's elements (their ids, from
    ``htr.document.assign_ids``, are ``used``): unique, made from a prefix."""

    def __init__(self, used=()):
        self.used: set[str] = set(used)
        self.counter = 0

    def __call__(self, prefix: str) -> str:
        while True:
            self.counter += 1
            candidate = f"{prefix}_{self.counter}"
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate


def to_string(root: ET.Element) -> str:
    """The document as indented UTF-8 XML text with a declaration."""
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
