"""Peer engines (Tesseract, RapidOCR) on printed lines and pages that htr renders itself, and `htr eval detect
--system tesseract` on a folder of one such page; each test skips where its engine is missing."""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from htr import peers
from htr.errors import HTRError
from htr.evaluate import cer
from tests.test_cli import htr
from tests.test_synth import fonts_subset  # noqa: F401 (fixture)

TEXT = "The quick brown fox jumps over 13 lazy dogs."
NO_TESSERACT = "tesseract not on PATH (apt-get install tesseract-ocr; .ci/run does not install it)"
ENGINES = [
    pytest.param("tesseract", marks=pytest.mark.skipif(shutil.which("tesseract") is None, reason=NO_TESSERACT)),
    pytest.param("rapidocr", marks=pytest.mark.skipif(
        peers.available("rapidocr") is not None,
        reason="rapidocr-onnxruntime not installed (pip install -e '.[peers]'; .ci/run leaves it out: it pulls "
               "opencv-python, whose cv2 would shadow the opencv-python-headless htr depends on)")),
]


@pytest.fixture(scope="module")
def courier(fonts_subset):  # noqa: F811
    return [f for f in fonts_subset if f.package == "@fontsource/courier-prime"]


@pytest.fixture(scope="module")
def rendered_page(courier):
    from htr.synth import render_page

    return render_page(5, layout="letter", degrade=False, fonts=courier, writing="normal")


def test_available_and_unknown_system():
    assert peers.available("tesseract") in (None, "tesseract not on PATH")
    assert peers.available("nothing")
    with pytest.raises(HTRError, match="unknown"):
        peers.recognize_lines("nothing", [])
    with pytest.raises(HTRError, match="--system nothing"):
        peers.chosen_systems(["htr,nothing"])
    assert peers.chosen_systems(None) == ["htr"] and peers.chosen_systems(["htr", " htr"]) == ["htr"]


@pytest.mark.parametrize("system", ENGINES)
def test_reads_printed_lines(system, courier):
    from htr.synth import render_line

    samples = [render_line(seed, text=TEXT, kind="print", fonts=courier, size=28) for seed in range(3)]
    crops = [samples[0].image, cv2.cvtColor(samples[1].image, cv2.COLOR_RGB2GRAY), samples[2].image]
    texts = peers.recognize_lines(system, crops)
    assert len(texts) == 3
    for text in texts:
        assert cer(text, TEXT) < 0.2, text
    assert peers.recognize_lines(system, []) == []


@pytest.mark.parametrize("system", ENGINES)
def test_page_text_in_reading_order(system, courier):
    from htr.synth import render_line

    lines = ["First line of the page.", "Then a second one here.", "And the last line, 2024."]
    images = [render_line(seed, text=t, kind="print", fonts=courier, size=28).image for seed, t in enumerate(lines)]
    page = np.full((60 * len(lines) + 40, max(i.shape[1] for i in images) + 40, 3), 255, np.uint8)
    for k, image in enumerate(images):
        h, w = image.shape[:2]
        page[20 + 60 * k:20 + 60 * k + h, 20:20 + w] = image
    text = peers.read_page_text(system, page)
    assert len(text.splitlines()) == len(lines), text
    assert cer(text.replace("\n", " "), " ".join(lines)) < 0.2, text


@pytest.mark.parametrize("system", ENGINES)
def test_detects_the_lines_of_a_page(system, rendered_page):
    image, page = rendered_page
    found = peers.detect_lines(system, image)
    assert all(p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 2 for p in found)
    assert abs(len(found) - len(page.lines)) <= max(2, 0.15 * len(page.lines)), (len(found), len(page.lines))


@pytest.mark.skipif(shutil.which("tesseract") is None, reason=NO_TESSERACT)
def test_eval_detect_cli_with_tesseract_only(tmp_path, rendered_page):
    from htr.formats import write_document

    image, page = rendered_page
    cv2.imwrite(str(tmp_path / "p1.png"), image[:, :, ::-1])
    page.source = "p1.png"
    (tmp_path / "p1.xml").write_text(write_document(page, "page"), encoding="utf-8")
    result = htr("eval", "detect", tmp_path, "--system", "tesseract", "--weights", tmp_path / "absent.pt",
                 "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report["total"]["systems"]) == ["tesseract"] and report["total"]["pages"] == 1
    assert report["total"]["f1"] > 0.8 and report["total"]["systems"]["tesseract"]["median_seconds"] > 0
