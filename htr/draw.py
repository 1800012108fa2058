"""Pictures of what htr found: line polygons (red) and word polygons (green) drawn on the page image."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from htr.detection.postprocess import Detection
from htr.document import Page
from htr.errors import HTRError, UsageError, one_line

COLOURS = {"line": (220, 40, 40), "word": (20, 150, 40)}  # RGB


def draw_overlay(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """The page with line polygons (red) and word polygons (green) drawn on it; RGB."""
    out = image.copy()
    thick = max(1, round(max(image.shape[:2]) / 800))
    for d in sorted(detections, key=lambda d: d.kind != "line"):
        pts = np.round(d.polygon).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, COLOURS.get(d.kind, (0, 0, 255)), thick if d.kind == "word" else thick + 1,
                      cv2.LINE_AA)
    return out


def draw_page(image: np.ndarray, page: Page) -> np.ndarray:
    """The page image (RGB) with the page's line polygons and word polygons drawn on it."""
    shapes = [Detection(ln.polygon, ln.confidence or 0.0, "line") for ln in page.lines]
    shapes += [Detection(w.polygon, w.confidence or 0.0, "word") for w in page.words()]
    return draw_overlay(image, shapes)


def check_overlay(path) -> None:
    """UsageError when an overlay could not be written under this name: checked before a page is read."""
    if not cv2.haveImageWriter(str(path)):
        raise UsageError(f"--overlay {path}: htr cannot write an image of this type: give a name ending in "
                         ".png, .jpg, .tif or .webp")
    folder = Path(path).parent
    if not folder.is_dir():
        raise UsageError(f"--overlay {path}: no such folder {folder}")


def save_overlay(path, rgb: np.ndarray) -> None:
    """Write an RGB picture (its format from the name); HTRError when it cannot be written."""
    try:
        written = cv2.imwrite(str(path), rgb[:, :, ::-1])
    except cv2.error as err:
        raise HTRError(f"{path}: cannot write the overlay image ({one_line(str(err).strip())})") from err
    if not written:
        raise HTRError(f"{path}: cannot write the overlay image (unknown extension or unwritable)")
