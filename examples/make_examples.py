"""Regenerate the example pages and every output htr makes of them (run from the repository root):

    python examples/make_examples.py

Three synthetic pages (a handwritten letter, a form, two-column notes) rendered by htr.synth with fixed seeds;
for each: the scan (NAME.jpg), its exact ground truth (NAME.gt.xml), what `htr page` writes in every format (NAME.txt, NAME.hocr, NAME.alto.xml,
NAME.page.xml, NAME.json), the page read back drawn on the scan (NAME.read.jpg) and the detector's own lines and
words (NAME.detect.jpg: lines red, words green). Outputs come from the weights in htr/weights/.
"""
from pathlib import Path

import cv2
import numpy as np

from htr.draw import draw_overlay, draw_page
from htr.formats import REGISTRY, save_document
from htr.pipeline import Reader
from htr.synth.pages import render_page

HERE = Path(__file__).parent
PAGES = {"letter": ("letter", 11), "form": ("form", 12), "notes": ("two_columns", 13)}


def save_jpeg(path: Path, rgb: np.ndarray, long_side: int = 1400) -> None:
    scale = min(1.0, long_side / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    cv2.imwrite(str(path), small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])


def main() -> None:
    reader = Reader()
    for name, (layout, seed) in PAGES.items():
        image, truth = render_page(np.random.default_rng([2026, seed]), layout=layout)
        cv2.imwrite(str(HERE / f"{name}.jpg"), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        truth.source = f"{name}.jpg"
        save_document(truth, HERE / f"{name}.gt.xml", "page")
        page = reader.read(HERE / f"{name}.jpg")
        for fmt, record in REGISTRY.items():
            save_document(page, HERE / f"{name}{record.suffix}", fmt, image)
        save_jpeg(HERE / f"{name}.read.jpg", draw_page(image, page))
        save_jpeg(HERE / f"{name}.detect.jpg", draw_overlay(image, reader.detector.detect(image)))
        print(f"{name}: {len(page.lines)} lines, {sum(1 for _ in page.words())} words")


if __name__ == "__main__":
    main()
