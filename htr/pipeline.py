"""Pages in, documents out: ``read_page(img) -> Page``: orient, detect, crop, recognise in batches, lay out.

``Reader`` loads the detector and the recogniser once and is reused page after page; ``read_page`` keeps
one default ``Reader`` per process. ``read_page(img, lines=...)`` skips detection and recognises the lines
of an existing segmentation (a PAGE/ALTO file or a ``Page``), writing the text back into that structure.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep on a shared CPU

import cv2
import numpy as np

from htr.document import Line, Page, Word, assign_ids, nest_shapes
from htr.geometry import crop_page_lines
from htr.imageio import ImageSource, load_image
from htr.layout import layout
from htr.paths import DEFAULT_LM
from htr.recognition.decode import DEFAULT_BEAM
from htr.runtime import DEFAULT_PRECISION, DEFAULT_RUNTIME

ORIENT_SAMPLE = 6  # lines also recognised upside down to choose between 0 and 180 degrees


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


def horizontal_line_area(lines: list[Line]) -> float:
    """The area of the lines' boxes that are clearly wider than tall: how well a page orientation reads."""
    boxes = np.array([ln.bbox for ln in lines]).reshape(-1, 4)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return float(np.sum(np.where(w > 2 * h, w * h, 0.0)))


class Reader:
    """The detector and recogniser, loaded once. ``read(img)`` gives a ``Page`` with text in reading order."""

    def __init__(self, det_weights: str | Path | None = None, rec_weights: str | Path | None = None, *,
                 threads: int | None = None, beam: int = DEFAULT_BEAM, lm: str | Path | None = DEFAULT_LM,
                 orient: bool = True, batch_size: int = 16, lang: tuple[str, ...] | None = None,
                 runtime: str = DEFAULT_RUNTIME, precision: str | None = None):
        """``runtime``: what runs both models' forward passes, "torch" or "onnx" (ONNX Runtime: htr.runtime).
        ``precision``: both models', "fp32", "bf16" or "auto" (None: the default, auto: ``htr.runtime``)."""
        import torch

        from htr.detection.detector import Detector
        from htr.recognition.recognizer import Recognizer

        if threads:
            torch.set_num_threads(threads)
        precision = precision or DEFAULT_PRECISION
        self.detector = Detector(det_weights, runtime=runtime, precision=precision)
        self.recognizer = Recognizer(rec_weights, beam=beam, lm=lm, batch_size=batch_size, lang=lang,
                                     runtime=runtime, precision=precision)
        self.orient = orient
        self.seconds: dict[str, float] = {}  # per stage, of the last page read

    def _recognise(self, image: np.ndarray, lines: list[Line], check_turned: bool = False) -> list[Line] | None:
        """Crop and read ``lines`` of ``image`` in place: text, confidence and words with polygons from the
        recogniser's character spans. Returns the lines that could be cropped; with ``check_turned``, None
        instead (and nothing written) when the page reads better upside down: the longest lines, read in
        the same batches turned by 180 degrees, come out more confident."""
        crops = crop_page_lines(image, lines, self.recognizer.height)
        kept = [(line, crop) for line, crop in zip(lines, crops) if crop is not None]
        images = [crop.image for _, crop in kept]
        sample = sorted(range(len(kept)), key=lambda i: -(kept[i][0].bbox[2] - kept[i][0].bbox[0]))[
            :ORIENT_SAMPLE] if check_turned else []
        results = self.recognizer.recognize(images + [images[i][::-1, ::-1].copy() for i in sample])
        results, turned = results[: len(kept)], results[len(kept):]
        if sample and (np.mean([r.confidence for r in turned])
                       > np.mean([results[i].confidence for i in sample]) + 0.05):
            return None
        for (line, crop), rec in zip(kept, results):
            line.text, line.confidence = rec.text, round(float(rec.confidence), 4)
            line.words = [Word(polygon=crop.span_polygon(w.x0, w.x1), text=w.text,
                               confidence=round(float(w.confidence), 4)) for w in rec.words]
        return [line for line, _ in kept]

    def _orient_and_detect(self, rgb: np.ndarray) -> tuple[int, np.ndarray, list[Line], str | None]:
        """(quarter turns, 0 or 1, that make the page's lines horizontal, the turned page, its detected lines,
        the detector's warning of a page found empty). The ink profile settles 0/180 against 90/270 when it is
        clear; otherwise both are detected (without the detector's retries at other sizes) and the one with
        more horizontal line area wins. 0 against 180 is the recognition's (``_recognise``)."""
        if not self.orient:
            return 0, rgb, *self._detect(rgb)
        ratio = row_column_ratio(rgb)
        candidates = [0] if ratio >= 2.0 else [1] if ratio <= 0.5 else [0, 1]
        tried = [(t, rotate(rgb, t)) for t in candidates]
        tried = [(t, work, *self._detect(work, retry=len(tried) == 1)) for t, work in tried]
        turns, work, found, warning = max(tried, key=lambda item: horizontal_line_area(item[2]))
        if not found and len(tried) > 1:
            found, warning = self._detect(work)  # now with the retries
        return turns, work, found, warning

    def _detect(self, image: np.ndarray, retry: bool = True) -> tuple[list[Line], str | None]:
        found, warning = self.detector.detect_checked(image, ("line",), retry)
        return [Line(polygon=d.polygon, confidence=round(float(d.score), 4)) for d in found], warning

    def read(self, image: ImageSource, lines: Page | str | Path | None = None,
             source: str | None = None) -> Page:
        """The page's text, lines and words. ``lines``: an existing segmentation (a ``Page`` or a PAGE/ALTO
        file) to read instead of detecting lines; its structure is kept and its text replaced."""
        start = time.perf_counter()
        rgb = load_image(image)
        height, width = rgb.shape[:2]
        if source is None and isinstance(image, (str, Path)):
            source = Path(image).name
        stages = self.seconds = {"load": time.perf_counter() - start}
        if lines is not None:
            page = lines if isinstance(lines, Page) else _read_segmentation(lines)
            page.width, page.height = width, height
            page.source = page.source or source
            page.clip_to_image()
            tick = time.perf_counter()
            self._recognise(rgb, page.lines)
            stages["recognise"] = time.perf_counter() - tick
            return assign_ids(nest_shapes(page, grow_blocks=True))  # the segmentation's lines are kept
        tick = time.perf_counter()
        turns, work, found, warning = self._orient_and_detect(rgb)
        stages["detect"] = time.perf_counter() - tick
        tick = time.perf_counter()
        read = self._recognise(work, found, check_turned=self.orient)
        if read is None:  # upside down
            turns += 2
            work = rotate(rgb, turns)
            found, warning = self._detect(work)
            read = self._recognise(work, found)
        detected = len(found)
        found = [ln for ln in read if ln.text.strip()]
        stages["recognise"] = time.perf_counter() - tick
        if detected and not found:
            warning = f"{detected} text line{'s' * (detected > 1)} found, but no text read in any: check it"
        tick = time.perf_counter()
        blocks = layout(found)  # in the upright page; then the shapes go back to the scan's pixels
        for shape in [*blocks, *found, *(w for ln in found for w in ln.words)] if turns else []:
            shape.polygon = unrotate_points(shape.polygon, turns, width, height)
        page = assign_ids(nest_shapes(Page(width=width, height=height, blocks=blocks, source=source,
                                           rotation=90 * turns, warnings=[warning] if warning else [])))
        stages["layout"] = time.perf_counter() - tick
        return page


def _read_segmentation(path: str | Path) -> Page:
    from htr.formats import read_document

    return read_document(path)


_default: Reader | None = None


def read_page(image: ImageSource, lines: Page | str | Path | None = None, **reader_options) -> Page:
    """Read one page (a path, bytes, numpy array or PIL image) with the shipped weights. The models load
    on the first call and are reused; ``reader_options`` (see ``Reader``) build a new default reader."""
    global _default
    if _default is None or reader_options:
        _default = Reader(**reader_options)
    return _default.read(image, lines)
