"""Peer OCR engines, Tesseract (the ``tesseract`` program) and RapidOCR (``rapidocr-onnxruntime``), behind the
calls htr's evaluation commands make of htr itself: recognise line crops, detect lines, read a page."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from htr.errors import HTRError, ResourceError
from htr.formats.hocr import read_hocr

SYSTEMS = ("tesseract", "rapidocr")
CHOICES = ("htr", *SYSTEMS)  # what the evaluation commands' --system takes
PAD = 8  # white border (pixels) around a line crop for tesseract


def available(system: str) -> str | None:
    """None when the engine can be used, else a one-line reason."""
    if system == "tesseract":
        return None if shutil.which("tesseract") else "tesseract not on PATH"
    if system == "rapidocr":
        if importlib.util.find_spec("rapidocr_onnxruntime") is None:
            return "rapidocr-onnxruntime not installed (pip install rapidocr-onnxruntime)"
        return None
    return f"unknown OCR system {system!r} (choose from {', '.join(SYSTEMS)})"


def _require(system: str) -> None:
    """Raise HTRError for an unknown system, ResourceError for a missing engine."""
    reason = available(system)
    if reason:
        raise (ResourceError if system in SYSTEMS else HTRError)(reason)


def prepare(system: str) -> None:
    """Check that the engine can be used and load it now (RapidOCR builds its models), so that later calls
    spend their time on images only."""
    _require(system)
    if system == "rapidocr":
        _rapidocr()


def add_system_option(parser) -> None:
    """The evaluation commands' ``--system``: repeatable or comma-separated, default htr."""
    parser.add_argument("--system", action="append", metavar="NAME",
                        help=f"system(s) to score: {', '.join(CHOICES)}; repeat or comma-separate (default: htr)")


def chosen_systems(values: list[str] | None) -> list[str]:
    """The --system values as a list without repeats, peers checked and loaded; HTRError for unknown names."""
    names = list(dict.fromkeys(n.strip() for v in values or ["htr"] for n in v.split(",") if n.strip()))
    for name in names:
        if name not in CHOICES:
            raise HTRError(f"--system {name}: unknown (choose from {', '.join(CHOICES)})")
    for name in names:
        if name != "htr":
            prepare(name)
    return names or ["htr"]


def _png(image: np.ndarray) -> bytes:
    """PNG bytes of a grey or RGB uint8 image."""
    ok, data = cv2.imencode(".png", image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise HTRError(f"cannot encode an image of shape {image.shape} as PNG")
    return data.tobytes()


def _tesseract(source: str, *args: str, data: bytes | None = None) -> str:
    """stdout of ``tesseract SOURCE stdout -l eng ARGS`` (SOURCE "stdin" reads ``data``)."""
    cmd = ["tesseract", source, "stdout", "-l", "eng", *args]
    try:
        done = subprocess.run(cmd, input=data, capture_output=True, check=False)
    except OSError as err:
        raise ResourceError(f"cannot run tesseract: {err}") from err
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise HTRError(f"tesseract failed (exit {done.returncode}): {tail[0]}")
    return done.stdout.decode("utf-8", errors="replace")


@lru_cache(maxsize=1)
def _rapidocr():
    """The process's RapidOCR engine (slow to build); its threads follow OMP_NUM_THREADS when that is set."""
    from rapidocr_onnxruntime import RapidOCR

    threads = os.environ.get("OMP_NUM_THREADS", "")
    return RapidOCR(**({"intra_op_num_threads": int(threads)} if threads.isdigit() else {}))


def _run_rapidocr(image: np.ndarray, **steps) -> list:
    """RapidOCR's result list for one image ([] when it finds nothing); RGB input is passed on as BGR."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    try:
        result, _ = _rapidocr()(image, **steps)
    except Exception as err:
        raise HTRError(f"rapidocr failed: {type(err).__name__}: {err}") from err
    return result or []


def recognize_lines(system: str, crops: list[np.ndarray]) -> list[str]:
    """The text of each line crop (grey or RGB uint8)."""
    _require(system)
    if not crops:
        return []
    if system == "rapidocr":
        out = []
        for crop in crops:
            result = _run_rapidocr(crop, use_det=False, use_cls=False, use_rec=True)
            out.append(result[0][0].strip() if result else "")
        return out
    # One tesseract run for all crops (a list file of images; their texts come back separated by form feeds).
    with tempfile.TemporaryDirectory(prefix="htr-tess-") as tmp:
        paths = []
        for i, crop in enumerate(crops):
            path = Path(tmp) / f"{i:06d}.png"
            padded = cv2.copyMakeBorder(crop, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            path.write_bytes(_png(padded))
            paths.append(str(path))
        listing = Path(tmp) / "list.txt"
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        texts = _tesseract(str(listing), "--psm", "7").split("\f")
    if len(texts) != len(crops):
        raise HTRError(f"tesseract returned {len(texts)} texts for {len(crops)} line images")
    return [" ".join(t.split()) for t in texts]


def detect_lines(system: str, image: np.ndarray) -> list[np.ndarray]:
    """Text line polygons of a page image (float32 (K, 2), page pixels): Tesseract's hOCR line boxes,
    RapidOCR's detector boxes (4 points each)."""
    _require(system)
    if system == "rapidocr":
        boxes = _run_rapidocr(image, use_det=True, use_cls=False, use_rec=False)
        return [np.asarray(box, np.float32).reshape(-1, 2) for box in boxes]
    page = read_hocr(_tesseract("stdin", "hocr", data=_png(image)))
    return [line.polygon.astype(np.float32) for line in page.lines if len(line.polygon)]


def _join_pieces(pieces: list[tuple[np.ndarray, str]]) -> list:
    """Text boxes joined into lines: a box joins the line to its left when they overlap vertically by half
    the lower one's height and the gap between them is under 1.5 heights (RapidOCR splits lines at wide gaps)."""
    from htr.document import Line, box_polygon

    lines: list[list] = []  # [x0, y0, x1, y1, [texts]]
    for box, text in sorted(pieces, key=lambda p: float(p[0][:, 0].min())):
        x0, y0 = box.min(0)
        x1, y1 = box.max(0)
        for line in lines:
            overlap = min(y1, line[3]) - max(y0, line[1])
            height = min(y1 - y0, line[3] - line[1])
            if overlap > 0.5 * height and -height < x0 - line[2] < 1.5 * max(y1 - y0, line[3] - line[1]):
                line[:4] = [min(x0, line[0]), min(y0, line[1]), max(x1, line[2]), max(y1, line[3])]
                line[4].append(text)
                break
        else:
            lines.append([x0, y0, x1, y1, [text]])
    return [Line(polygon=box_polygon(*line[:4]), text=" ".join(line[4])) for line in lines]


def read_page_text(system: str, image: np.ndarray) -> str:
    """The page's text, one line of text per line: in Tesseract's reading order; RapidOCR's boxes (it has no
    layout step) in the order htr's layout gives them."""
    _require(system)
    if system == "rapidocr":
        from htr.document import Page
        from htr.layout import layout

        result = _run_rapidocr(image)  # its boxes joined into lines, put in reading order by htr's layout
        found = _join_pieces([(np.asarray(box, np.float32).reshape(-1, 2), text) for box, text, _ in result])
        lines = Page(image.shape[1], image.shape[0], blocks=layout(found)).text.splitlines()
    else:
        lines = _tesseract("stdin", data=_png(image)).replace("\f", "\n").splitlines()
    return "\n".join(line.strip() for line in lines if line.strip())
