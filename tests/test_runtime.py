"""--runtime onnx: the shipped models exported to ONNX give what torch gives, and the export is cached."""
import importlib.util
import sys

import numpy as np
import pytest

from htr import runtime
from htr.errors import UsageError
from htr.formats import read_document
from htr.geometry import crop_page_lines
from htr.imageio import load_image
from htr.paths import REPO, WEIGHTS_DIR

EXAMPLES = REPO / "examples"
PAGES = ("letter", "form", "notes")

pytestmark = pytest.mark.skipif(not (WEIGHTS_DIR / "det.pt").exists() or not (WEIGHTS_DIR / "rec.pt").exists(),
                                reason="htr/weights/det.pt and rec.pt are needed (htr train det / rec)")
needs_ort = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                               reason="onnxruntime is not installed")


@pytest.fixture(autouse=True, scope="module")
def cache(tmp_path_factory):
    """Exports go to a fresh cache, not the user's."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("cache")
        mp.setenv("HTR_CACHE", str(path))
        yield path / "onnx"


@pytest.fixture(scope="module")
def crops():
    """Line crops of the letter and the notes, 40 px high, of many widths (ground-truth lines)."""
    found = []
    for name in ("letter", "notes"):
        page = read_document(EXAMPLES / f"{name}.gt.xml")
        found += [c.image for c in crop_page_lines(load_image(EXAMPLES / f"{name}.jpg"), page.lines, 40) if c]
    return found


@pytest.fixture(scope="module")
def recognizers():
    from htr.recognition.recognizer import Recognizer

    return Recognizer(beam=0, lm=None, precision="fp32"), Recognizer(beam=0, lm=None, runtime="onnx")


@needs_ort
def test_recogniser_log_probabilities_and_text_match_torch(crops, recognizers):
    torch_rec, onnx_rec = recognizers
    widths = {c.shape[1] for c in crops}
    assert len(crops) >= 20 and max(widths) > 3 * min(widths)  # batches of several widths, padded
    expected, got = torch_rec.logprobs(crops), onnx_rec.logprobs(crops)
    for a, b in zip(expected, got):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-3
    assert [r.text for r in onnx_rec.recognize(crops)] == [r.text for r in torch_rec.recognize(crops)]


@needs_ort
def test_detector_maps_and_lines_match_torch():
    from htr.detection.detector import Detector

    page = load_image(EXAMPLES / "letter.jpg")
    torch_det, onnx_det = Detector(precision="fp32"), Detector(runtime="onnx")  # ONNX Runtime: float32
    (expected, scale), (got, onnx_scale) = torch_det.maps(page), onnx_det.maps(page)
    assert expected.shape == got.shape and scale == onnx_scale and np.abs(expected - got).max() < 1e-3
    lines, onnx_lines = torch_det.detect(page, ("line",)), onnx_det.detect(page, ("line",))
    assert len(lines) == len(onnx_lines) >= 10
    for a, b in zip(lines, onnx_lines):
        assert np.array_equal(a.polygon, b.polygon)


def test_the_default_precision_reads_as_float32_does(crops, recognizers):
    """bfloat16 where the CPU has it natively (the default, "auto"): nearly the same log-probabilities and
    text as float32; elsewhere float32 itself."""
    from htr.evaluate import cer
    from htr.recognition.recognizer import Recognizer
    from htr.runtime import native_bf16

    fp32, _ = recognizers
    default = Recognizer(beam=0, lm=None)
    assert default.bf16 == native_bf16()
    expected, got = fp32.logprobs(crops), default.logprobs(crops)
    difference = np.concatenate([np.abs(np.exp(a) - np.exp(b)).max(1) for a, b in zip(expected, got)])
    assert np.mean(difference) < 0.01 and np.mean(difference > 0.1) < 0.01  # per frame: mostly the same
    texts, default_texts = [r.text for r in fp32.recognize(crops)], [r.text for r in default.recognize(crops)]
    assert cer("\n".join(default_texts), "\n".join(texts)) < 0.01
    assert sum(a == b for a, b in zip(texts, default_texts)) >= 0.8 * len(texts)


def test_the_default_precision_detects_as_float32_does():
    """The detector in bfloat16 where the CPU has it natively: the letter's lines found as in float32."""
    from htr.detection.detector import Detector
    from htr.evaluate import match_polygons
    from htr.runtime import native_bf16

    page = load_image(EXAMPLES / "letter.jpg")
    default, fp32 = Detector(), Detector(precision="fp32")
    assert default.bf16 == native_bf16() and not fp32.bf16
    (expected, _), (got, _) = fp32.maps(page), default.maps(page)
    assert np.mean(np.abs(expected - got)) < 0.01 and np.mean((expected > 0.3) != (got > 0.3)) < 0.01
    lines, default_lines = fp32.detect(page, ("line",)), default.detect(page, ("line",))
    score = match_polygons([d.polygon for d in default_lines], [d.polygon for d in lines], 0.8)[0]
    assert len(lines) >= 10 and score.f1 >= 0.95, (len(lines), len(default_lines), score)


@pytest.fixture(scope="module")
def readers():
    from htr.pipeline import Reader

    return Reader(precision="fp32"), Reader(runtime="onnx")  # ONNX Runtime computes in float32


@needs_ort
@pytest.mark.parametrize("name", PAGES)
def test_reader_gives_the_same_text_with_either_runtime(readers, name):
    torch_reader, onnx_reader = readers
    expected = torch_reader.read(EXAMPLES / f"{name}.jpg").text
    assert expected.strip() and onnx_reader.read(EXAMPLES / f"{name}.jpg").text == expected


@needs_ort
def test_the_export_is_cached_per_weights_file(tmp_path, monkeypatch):
    import torch

    from htr.recognition.recognizer import load_weights

    monkeypatch.setenv("HTR_CACHE", str(tmp_path))
    cache = tmp_path / "onnx"
    model, _, info = load_weights()
    first = runtime.OnnxModel(model, "rec", WEIGHTS_DIR / "rec.pt")
    files = sorted(cache.glob("*-rec-v*.onnx"))
    assert len(files) == 1 and files[0] == runtime.cache_path(WEIGHTS_DIR / "rec.pt", "rec")
    mtime = files[0].stat().st_mtime_ns

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(runtime, "export", no_export)
    second = runtime.OnnxModel(model, "rec", WEIGHTS_DIR / "rec.pt")
    assert files[0].stat().st_mtime_ns == mtime and sorted(cache.iterdir()) == files  # no temporary left
    x = np.random.default_rng(0).random((3, 1, info["preprocess"]["height"], 96), np.float32)
    assert torch.equal(first(torch.from_numpy(x)), second(torch.from_numpy(x)))


def test_unknown_runtime_and_missing_onnxruntime_are_reported(monkeypatch):
    with pytest.raises(ValueError, match="runtime must be"):
        runtime.check_runtime("tensorrt")
    runtime.check_runtime("torch")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(UsageError, match="onnxruntime"):
        runtime.check_runtime("onnx")


@needs_ort
def test_a_recogniser_over_packed_sequences_is_refused():
    from htr.recognition.model import RecConfig, build_model

    with pytest.raises(UsageError, match="packed"):
        runtime.OnnxModel(build_model(RecConfig(num_classes=5, packed=True)), "rec")


def test_the_commands_take_runtime():
    from htr.cli import build_parser

    parser = build_parser()
    for argv in (["page", "a.jpg"], ["recognize", "a.png"], ["batch", "in", "out"]):
        assert parser.parse_args(argv).runtime == "torch"
        assert parser.parse_args([*argv, "--runtime", "onnx"]).runtime == "onnx"
