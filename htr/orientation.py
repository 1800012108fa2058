"""Page orientation, a stage of its own: which quarter turn makes a page's lines horizontal, and the shapes
found on the turned page taken back to the scan's pixels. ``htr page`` (``htr.pipeline.Reader``) and
``htr detect`` both detect through ``detect_oriented``, so they find the same lines on a page scanned sideways.

90 against 0 degrees: the ink profile (``row_column_ratio``) when it is clear, else both are detected and the
one with more horizontal line area wins. 180 against 0 needs the text: the recogniser reads the longest lines
(``upside_down_sample``) also turned by 180 degrees and the more confident reading wins (``reads_upside_down``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

ORIENT_SAMPLE = 6  # lines also recognised upside down to choose between 0 and 180 degrees
UPSIDE_DOWN_MARGIN = 0.05  # how much more confident the turned reading must be


def rotate(image: np.ndarray, quarter_turns: int) -> np.ndarray:
    """The image turned counter-clockwise by ``quarter_turns`` x 90 degrees."""
    return np.ascontiguousarray(np.rot90(image, quarter_turns % 4))


def unrotate_points(points: np.ndarray, quarter_turns: int, width: int, height: int) -> np.ndarray:
    """Points of ``rotate(image, quarter_turns)`` mapped back to the pixels of the original image, which is
    ``width`` x ``height``."""
    p = np.asarray(points, np.float32).reshape(-1, 2)
    k = quarter_turns % 4
    x, y = p[:, 0], p[:, 1]
    if k == 1:  # rot90 ccw: original (x, y) -> (y, width - x)
        return np.stack([width - y, x], 1)
    if k == 2:
        return np.stack([width - x, height - y], 1)
    if k == 3:
        return np.stack([y, height - x], 1)
    return p.copy()


def unrotate_shapes(shapes, quarter_turns: int, width: int, height: int) -> None:
    """Each shape's (block, line, word, detection) polygon, found on ``rotate(image, quarter_turns)``, taken
    back in place to the original image's pixels (``width`` x ``height``)."""
    for shape in shapes if quarter_turns % 4 else ():
        shape.polygon = unrotate_points(shape.polygon, quarter_turns, width, height)


def row_column_ratio(image: np.ndarray) -> float:
    """How much more the page's ink varies from row to row than from column to column: the ink profile
    across text lines alternates between lines and gaps. Upright pages (24 synthetic, 32 real) measured
    0.6 to 4.3; a page turned by 90 degrees gives the inverse."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    s = 800 / max(grey.shape)
    small = cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else grey
    ink = cv2.adaptiveThreshold(small, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    h, w = ink.shape
    ink = ink[h // 20: h - h // 20, w // 20: w - w // 20]  # scanner borders and page edges
    if ink.sum() < 50:
        return 1.0

    def variation(profile: np.ndarray) -> float:
        p = np.convolve(profile.astype(np.float64), np.ones(3) / 3, mode="valid")
        return float(p.std()) / max(float(p.mean()), 1e-9)

    return variation(ink.sum(1)) / max(variation(ink.sum(0)), 1e-9)


def horizontal_line_area(polygons) -> float:
    """The area of the polygons' boxes that are clearly wider than tall: how well a page orientation reads."""
    if not len(polygons):
        return 0.0
    boxes = np.array([[*p.min(0), *p.max(0)] for p in polygons if len(p)]).reshape(-1, 4)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return float(np.sum(np.where(w > 2 * h, w * h, 0.0)))


@dataclass
class Oriented:
    """What ``detect_oriented`` found: ``turns`` quarter turns (counter-clockwise) made the page upright,
    ``image`` is the page turned by them, ``found`` the detector's detections on it and ``warning`` its warning
    of a page found empty (None)."""
    turns: int
    image: np.ndarray
    found: list
    warning: str | None


def detect_turned(detector, rgb: np.ndarray, turns: int, kinds: tuple[str, ...] = ("line",),
                  retry: bool = True) -> Oriented:
    """The detections of ``kinds`` on the page turned by ``turns`` quarter turns."""
    work = rotate(rgb, turns)
    found, warning = detector.detect_checked(work, kinds, retry)
    return Oriented(turns % 4, work, found, warning)


def detect_oriented(detector, rgb: np.ndarray, kinds: tuple[str, ...] = ("line",), orient: bool = True) -> Oriented:
    """The page (RGB array) turned by 0 or 1 quarter turns, whichever makes its lines horizontal, and what the
    detector (``htr.detection.detector.Detector``) finds of ``kinds`` on it; ``orient`` False: as it lies. The
    ink profile decides when it is clear; otherwise both are detected (without the detector's retries at other
    sizes) and the one with more horizontal line area wins."""
    if not orient:
        return detect_turned(detector, rgb, 0, kinds)
    ratio = row_column_ratio(rgb)
    candidates = [0] if ratio >= 2.0 else [1] if ratio <= 0.5 else [0, 1]
    tried = [detect_turned(detector, rgb, turns, kinds, retry=len(candidates) == 1) for turns in candidates]
    best = max(tried, key=lambda o: horizontal_line_area([d.polygon for d in o.found if d.kind == "line"]))
    if not best.found and len(tried) > 1:
        best = detect_turned(detector, rgb, best.turns, kinds)  # now with the retries
    return best


def upside_down_sample(widths: list[float]) -> list[int]:
    """The indices of the (at most ORIENT_SAMPLE) widest lines: those also read turned by 180 degrees."""
    return sorted(range(len(widths)), key=lambda i: -widths[i])[:ORIENT_SAMPLE]


def reads_upside_down(upright: list[float], turned: list[float]) -> bool:
    """Whether the sample's lines read turned by 180 degrees (confidences ``turned``) clearly more confidently
    than as they lie (``upright``)."""
    return bool(upright) and float(np.mean(turned)) > float(np.mean(upright)) + UPSIDE_DOWN_MARGIN
