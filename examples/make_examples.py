"""Regenerate every output htr makes of the example pages (run from the repository root):

    python examples/make_examples.py            # the outputs, from the committed scans
    python examples/make_examples.py --render   # also the scans and their ground truth, rendered anew

Three synthetic pages (a handwritten letter, a form, two-column notes) rendered by htr.synth with fixed seeds;
for each: the scan (NAME.jpg), its exact ground truth (NAME.gt.xml), what `htr page` writes in every text format
(NAME.txt, NAME.hocr, NAME.alto.xml, NAME.page.xml, NAME.json), the page read back drawn on the scan
(NAME.read.jpg) and the detector's own lines and words (NAME.detect.jpg: lines red, words green). Outputs come
from the weights in htr/weights/, in fp32 (what `htr page --precision fp32` prints on every CPU);
tests/test_examples.py fails when they no longer agree with the shipped weights.
"""
import sys
from pathlib import Path

import cv2
import numpy as np

from htr.draw import draw_overlay, draw_page
from htr.formats import REGISTRY, save_document
from htr.imageio import load_image
from htr.pipeline import Reader

HERE = Path(__file__).parent
PAGES = {"letter": ("letter", 11), "form": ("form", 12), "notes": ("two_columns", 13)}


def save_jpeg(path: Path, rgb: np.ndarray, long_side: int = 1400) -> None:
    scale = min(1.0, long_side / max(rgb.shape[:2]))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    cv2.imwrite(str(path), small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])


def render(name: str, layout: str, seed: int) -> None:
    """The scan NAME.jpg and its ground truth NAME.gt.xml, rendered anew."""
    from htr.synth.pages import render_page

    image, truth = render_page(np.random.default_rng([2026, seed]), layout=layout)
    cv2.imwrite(str(HERE / f"{name}.jpg"), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    truth.source = f"{name}.jpg"
    save_document(truth, HERE / f"{name}.gt.xml", "page")


def main() -> None:
    reader = Reader(precision="fp32")
    for name, (layout, seed) in PAGES.items():
        if "--render" in sys.argv[1:] or not (HERE / f"{name}.jpg").exists():
            render(name, layout, seed)
        image = load_image(HERE / f"{name}.jpg")
        page = reader.read(HERE / f"{name}.jpg")
        for fmt, record in REGISTRY.items():
            if not record.binary:  # no searchable PDF: it would hold the scan again
                save_document(page, HERE / f"{name}{record.suffix}", fmt, image)
        save_jpeg(HERE / f"{name}.read.jpg", draw_page(image, page))
        save_jpeg(HERE / f"{name}.detect.jpg", draw_overlay(image, reader.detector.detect(image)))
        print(f"{name}: {len(page.lines)} lines, {sum(1 for _ in page.words())} words")


if __name__ == "__main__":
    main()
