"""Ground-truth pages on disk: the page image beside a PAGE/ALTO file, the (image, XML) pairs of a folder, and
a page's image with its ground truth in the image's pixels.

Real training pages are in ``$HTR_SHARED/data/{hooker,testaments}/train`` (the dev splits are for reporting).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from htr.document import Page
from htr.errors import FormatError
from htr.formats import read_document
from htr.imageio import IMAGE_SUFFIXES, load_image
from htr.paths import shared_dir

REAL_SETS = ("hooker", "testaments")


def image_for(xml: Path, source: str | None) -> Path | None:
    """The page image of a ground-truth file: the file it names, else one of the same stem, beside it or (for
    Transkribus-style exports with the XML in a ``page/`` or ``alto/`` folder) in the folder above."""
    folders = [xml.parent] + ([xml.parent.parent] if xml.parent.name.lower() in ("page", "alto") else [])
    stem = xml.name[:-len(".page.xml")] if xml.name.endswith(".page.xml") else xml.stem
    for folder in folders:
        if source and (folder / Path(source).name).is_file():
            return folder / Path(source).name
        for suffix in IMAGE_SUFFIXES:
            for s in (suffix, suffix.upper()):
                if (folder / (stem + s)).is_file():
                    return folder / (stem + s)
    return None


def gt_documents(folder: Path) -> list[Path]:
    """The .xml ground-truth files under a folder (recursive, sorted)."""
    return sorted(p for p in Path(folder).rglob("*.xml") if p.is_file())


def page_files(folder: str | Path) -> list[tuple[Path, Path]]:
    """(image, ground truth XML) pairs of a folder (not its sub-folders), sorted by name: each PAGE/ALTO file
    with the image ``image_for`` finds (other XML, a METS file, is passed over)."""
    pairs = []
    for xml in sorted(Path(folder).glob("*.xml")):
        try:
            image = image_for(xml, read_document(xml).source)
        except FormatError:
            continue
        if image is not None:
            pairs.append((image, xml))
    return pairs


def real_pages(split: str = "train", sets=REAL_SETS) -> list[tuple[Path, Path]]:
    return [pair for name in sets for pair in page_files(shared_dir() / "data" / name / split)]


def load_page(image_path: Path, xml_path: Path, at_least: int | None = None) -> tuple[np.ndarray, Page]:
    """A page image and its ground truth in the image's pixels. ``at_least``: a large JPEG may be decoded
    smaller, its long side still this many pixels or more (``load_image``), the ground truth scaled to it."""
    from htr.synth.augment import transform_page

    image, page = load_image(image_path, at_least=at_least), read_document(xml_path)
    h, w = image.shape[:2]
    if page.width and page.height and (page.width, page.height) != (w, h):
        if at_least is None:
            image = cv2.resize(image, (page.width, page.height), interpolation=cv2.INTER_AREA)
        else:
            transform_page(page, np.diag([w / page.width, h / page.height, 1.0]), w, h)
    return image, page
