"""Pages in, documents out: ``read_page(img) -> Page``: orient, detect, crop, recognise in batches, lay out.

``Reader`` loads the detector and the recogniser once and is reused page after page; ``read_page`` keeps
one default ``Reader`` per process. ``read_page(img, lines=...)`` skips detection and recognises the lines
of an existing segmentation (a PAGE/ALTO file or a ``Page``), writing the text back into that structure.
``read_document(path)`` reads every page of a PDF or multi-page TIFF into a ``Document``. How a page is turned
upright is ``htr.orientation``; how a ``Reader`` is built, ``htr.options.ReaderOptions``.
"""
from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle threads sleep on a shared CPU

import numpy as np

from htr.document import Document, Line, Page, Word, assign_ids, nest_shapes
from htr.geometry import crop_page_lines
from htr.imageio import ImageSource, load_image
from htr.layout import layout
from htr.options import ReaderOptions
from htr.orientation import detect_oriented, detect_turned, reads_upside_down, unrotate_shapes, upside_down_sample
from htr.runtime import DEFAULT_PRECISION


class Reader:
    """The detector and recogniser, loaded once. ``read(img)`` gives a ``Page`` with text in reading order,
    ``read_document(path)`` a ``Document`` of every page of a PDF or multi-page TIFF."""

    def __init__(self, options: ReaderOptions | None = None, /, **changes):
        """``options`` (``htr.options.ReaderOptions``; None: the defaults) with any of its fields changed by
        name: ``Reader(beam=0)``, ``Reader(options, threads=2)``."""
        if options is not None and not isinstance(options, ReaderOptions):
            raise TypeError("Reader(options, **changes): options is a ReaderOptions; weights go by name, "
                            "Reader(det_weights=..., rec_weights=...)")
        import torch

        from htr.detection.detector import Detector
        from htr.recognition.recognizer import Recognizer

        o = self.options = replace(options or ReaderOptions(), **changes)
        if o.threads:
            torch.set_num_threads(o.threads)
        precision = o.precision or DEFAULT_PRECISION
        self.detector = Detector(o.det_weights, runtime=o.runtime, precision=precision)
        self.recognizer = Recognizer(o.rec_weights, beam=o.beam, lm=o.lm, batch_size=o.batch_size, lang=o.lang,
                                     runtime=o.runtime, precision=precision)
        self.seconds: dict[str, float] = {}  # per stage, of the last page read

    @property
    def orient(self) -> bool:
        return self.options.orient

    def _recognise(self, image: np.ndarray, lines: list[Line],
                   check_turned: bool = False) -> tuple[list[Line], str | None] | None:
        """Crop and read ``lines`` of ``image`` in place: text, confidence and words with polygons from the
        recogniser's character spans. Returns the lines that could be cropped and the language they were read
        in (``Recognizer.recognize_page``); with ``check_turned``, None instead (and nothing written) when the
        page reads better upside down: the longest lines, read in the same batches turned by 180 degrees, come
        out more confident (``htr.orientation``)."""
        crops = crop_page_lines(image, lines, self.recognizer.height)
        kept = [(line, crop) for line, crop in zip(lines, crops) if crop is not None]
        images = [crop.image for _, crop in kept]
        sample = upside_down_sample([line.bbox[2] - line.bbox[0] for line, _ in kept]) if check_turned else []
        results, language = self.recognizer.recognize_page(
            images + [images[i][::-1, ::-1].copy() for i in sample], sample=len(images))
        results, turned = results[: len(kept)], results[len(kept):]
        if reads_upside_down([results[i].raw for i in sample], [r.raw for r in turned]):  # uncalibrated scores
            return None
        for (line, crop), rec in zip(kept, results):
            line.text, line.confidence = rec.text, round(float(rec.confidence), 4)
            line.words = [Word(polygon=crop.span_polygon(w.x0, w.x1), text=w.text,
                               confidence=round(float(w.confidence), 4)) for w in rec.words]
        return [line for line, _ in kept], language

    def read(self, image: ImageSource, lines: Page | str | Path | None = None,
             source: str | None = None) -> Page:
        """The page's text, lines and words. ``lines``: an existing segmentation (a ``Page`` or a PAGE/ALTO
        file) to read instead of detecting lines; its structure is kept and its text replaced. The image is
        decoded once (``load_image``); every stage works on that array."""
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
            page.language = self._recognise(rgb, page.lines)[1] or page.language
            stages["recognise"] = time.perf_counter() - tick
            return assign_ids(nest_shapes(page, grow_blocks=True))  # the segmentation's lines are kept
        tick = time.perf_counter()
        oriented = detect_oriented(self.detector, rgb, orient=self.orient)
        stages["detect"] = time.perf_counter() - tick
        tick = time.perf_counter()
        found = _lines(oriented.found)
        read = self._recognise(oriented.image, found, check_turned=self.orient)
        if read is None:  # upside down
            oriented = detect_turned(self.detector, rgb, oriented.turns + 2)
            found = _lines(oriented.found)
            read = self._recognise(oriented.image, found)
        (read, language), turns, warning, detected = read, oriented.turns, oriented.warning, len(found)
        found = [ln for ln in read if ln.text.strip()]
        stages["recognise"] = time.perf_counter() - tick
        if detected and not found:
            warning = f"{detected} text line{'s' * (detected > 1)} found, but no text read in any: check it"
        tick = time.perf_counter()
        blocks = layout(found)  # in the upright page; then the shapes go back to the scan's pixels
        unrotate_shapes([*blocks, *found, *(w for ln in found for w in ln.words)], turns, width, height)
        page = assign_ids(nest_shapes(Page(width=width, height=height, blocks=blocks, source=source,
                                           rotation=90 * turns, warnings=[warning] if warning else [],
                                           language=language)))
        stages["layout"] = time.perf_counter() - tick
        return page

    def pages(self, path: str | Path, pages: Iterable[int] | None = None) -> Iterator[tuple[Page, np.ndarray]]:
        """(page, its image) for each page of a PDF, multi-page TIFF or image, in order: ``pages`` (1-based
        numbers; None: all). ImageError for a file or a page that cannot be read."""
        from htr.imageio import load_page

        path = Path(path)
        for number in page_numbers(path, pages):
            image = load_page(path, number)
            yield self.read(image, source=path.name), image

    def read_document(self, path: str | Path, pages: Iterable[int] | None = None) -> Document:
        """Every page of a PDF or multi-page TIFF (or the one of an image) as a ``Document``, pages in order;
        ``pages``: only these (1-based numbers)."""
        return Document([page for page, _ in self.pages(path, pages)], source=Path(path).name)


def _lines(found) -> list[Line]:
    return [Line(polygon=d.polygon, confidence=round(float(d.score), 4)) for d in found]


def page_numbers(path: str | Path, pages: Iterable[int] | None = None) -> list[int | None]:
    """The 1-based page numbers to read of a PDF or multi-page TIFF (``pages``, checked; None: all of them);
    [None] for an image. ImageError for a page the file does not have."""
    from htr.errors import ImageError
    from htr.imageio import page_count

    count = page_count(path)
    wanted = list(range(1, (count or 1) + 1)) if pages is None else list(pages)
    beyond = [n for n in wanted if not 1 <= n <= (count or 1)]
    if beyond:
        raise ImageError(f"{path}: no page {beyond[0]} (the file has {count or 1})")
    return wanted if count is not None else [None] * len(wanted)


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


def read_document(path: str | Path, pages: Iterable[int] | None = None, **reader_options) -> Document:
    """Read every page of a PDF or multi-page TIFF (or the one of an image) into a ``Document``; ``pages``:
    only these (1-based numbers). The models are ``read_page``'s default reader's."""
    global _default
    if _default is None or reader_options:
        _default = Reader(**reader_options)
    return _default.read_document(path, pages)
