"""JSON: a lossless, human-readable form of a Page (round-trips every field)."""
from __future__ import annotations

import json

import numpy as np

from htr.document import Block, Line, Page, Word, assign_ids
from htr.errors import FormatError
from htr.formats.xmlutil import finite

SCHEMA = "htr-page/1"


def _points(polygon: np.ndarray | None) -> list | None:
    # float32 -> Python float is exact, and JSON's shortest repr of it reads back to the same float32.
    return None if polygon is None else [[float(x), float(y)] for x, y in polygon]


def page_to_dict(page: Page) -> dict:
    """The page as plain data; its elements keep their ids (``assign_ids`` fills in the missing ones, in place)."""
    assign_ids(page)

    def word(w: Word) -> dict:
        return {"id": w.id, "text": w.text, "confidence": w.confidence, "polygon": _points(w.polygon)}

    def line(ln: Line) -> dict:
        return {"id": ln.id, "kind": ln.kind, "text": ln.text, "confidence": ln.confidence,
                "polygon": _points(ln.polygon), "baseline": _points(ln.baseline),
                "words": [word(w) for w in ln.words]}

    return {"schema": SCHEMA, "source": page.source, "width": page.width, "height": page.height,
            "rotation": page.rotation, "warnings": list(page.warnings), "language": page.language,
            "blocks": [{"id": b.id, "kind": b.kind, "polygon": _points(b.polygon),
                        "lines": [line(ln) for ln in b.lines]} for b in page.blocks]}


def _polygon(points) -> np.ndarray:
    return finite(np.asarray(points, np.float32).reshape(-1, 2))


def page_from_dict(data: dict) -> Page:
    try:
        return Page(width=int(data["width"]), height=int(data["height"]), source=data.get("source"),
                    rotation=int(data.get("rotation", 0)), warnings=[str(w) for w in data.get("warnings", [])],
                    language=data.get("language"), blocks=[
            Block(polygon=_polygon(b["polygon"]), id=b.get("id"), kind=b.get("kind"), lines=[
                Line(polygon=_polygon(ln["polygon"]), text=ln.get("text", ""), confidence=ln.get("confidence"),
                     baseline=None if ln.get("baseline") is None else _polygon(ln["baseline"]),
                     id=ln.get("id"), kind=ln.get("kind"), words=[
                         Word(polygon=_polygon(w["polygon"]), text=w.get("text", ""),
                              confidence=w.get("confidence"), id=w.get("id"))
                         for w in ln.get("words", [])])
                for ln in b.get("lines", [])])
            for b in data.get("blocks", [])])
    except (KeyError, TypeError, ValueError) as err:
        raise FormatError(f"not an htr page JSON ({type(err).__name__}: {err})") from err


def write_json(page: Page) -> str:
    return json.dumps(page_to_dict(page), ensure_ascii=False, indent=1) + "\n"


def read_json(text: str) -> Page:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormatError(f"malformed JSON ({err})") from err
    if not isinstance(data, dict):
        raise FormatError("not an htr page JSON (top level is not an object)")
    return page_from_dict(data)
