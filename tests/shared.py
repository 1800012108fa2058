"""Access to ../shared (real data and official schemas) for tests: read in place, never copied into the repo.

The location is $HTR_SHARED, else the `shared` folder beside the repository. Tests that need it skip with a
reason where it is absent.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest

from htr.paths import shared_dir

SHARED = shared_dir()

SCHEMA_FILES = {
    "page2019": "pagecontent-2019-07-15.xsd",
    "page2013": "pagecontent-2013-07-15.xsd",
    "alto4": "alto-4-4.xsd",
}


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or pytest.skip with the reason when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found (set HTR_SHARED to the folder holding data/ and schemas/)")
    return path


@lru_cache(maxsize=None)
def _schema(name: str):
    etree = pytest.importorskip("lxml.etree", reason="lxml (a test extra) is needed to validate XML")
    xsd = shared_path("schemas", SCHEMA_FILES[name])
    text = xsd.read_bytes()
    # ALTO imports XLink from the web; point the import at the local copy so validation works offline.
    xlink = (xsd.parent / "xlink.xsd").resolve().as_uri().encode()
    text = text.replace(b"http://www.loc.gov/standards/xlink/xlink.xsd", xlink)
    doc = etree.fromstring(text, base_url=xsd.resolve().as_uri())
    return etree.XMLSchema(doc)


def validate(xml_text: str | bytes, schema: str) -> None:
    """Assert that the XML validates against one of the official schemas ("page2019", "page2013", "alto4")."""
    from lxml import etree

    data = xml_text.encode("utf-8") if isinstance(xml_text, str) else xml_text
    doc = etree.fromstring(data)
    xsd = _schema(schema)
    if not xsd.validate(doc):
        errors = "\n".join(str(e) for e in list(xsd.error_log)[:10])
        raise AssertionError(f"{schema} validation failed:\n{errors}")
