"""One weights-file layout for the detector and the recogniser: a format tag, one loader, one error, one resolver."""
import pytest
import torch

from htr.charset import CHARSET, RECOGNISER_CHARSET, stand_in
from htr.errors import ResourceError
from htr.modelfile import FORMATS, load_model_file
from htr.paths import WEIGHTS_DIR, default_weights, weights_path
from htr.recognition.codec import DEFAULT_CHARSET, Codec
from htr.recognition.model import RecConfig, build_model
from htr.recognition.recognizer import load_weights, save_weights
from htr.synth.charset import fit_text


def tiny_recogniser(tmp_path):
    codec = Codec("abc ")
    path = tmp_path / "rec.pt"
    save_weights(path, build_model(RecConfig(num_classes=len(codec), channels=(8, 8, 16, 16), hidden=16)), codec)
    return path


def test_recogniser_files_are_tagged_and_untagged_ones_still_load(tmp_path):
    path = tiny_recogniser(tmp_path)
    blob = torch.load(path, weights_only=True)
    assert blob["format"] == FORMATS["rec"] == "htr-rec/1"
    del blob["format"]  # as files written before the tag
    torch.save(blob, tmp_path / "old.pt")
    assert load_weights(tmp_path / "old.pt")[1].charset == "abc "


def test_one_not_found_error_and_kinds_are_told_apart(tmp_path):
    for kind, name in (("det", "detector"), ("rec", "recogniser")):
        with pytest.raises(ResourceError, match=f"{name} weights not found"):
            load_model_file(tmp_path / "missing.pt", kind)
    with pytest.raises(ResourceError, match="not an htr detector weights file"):
        load_model_file(tiny_recogniser(tmp_path), "det")
    (tmp_path / "junk.pt").write_bytes(b"not torch")
    with pytest.raises(ResourceError, match="not a readable recogniser weights file"):
        load_model_file(tmp_path / "junk.pt", "rec")


@pytest.mark.skipif(not (WEIGHTS_DIR / "rec.pt").is_file() or not (WEIGHTS_DIR / "det.pt").is_file(),
                    reason="htr/weights/det.pt and rec.pt are needed")
def test_shipped_weights_load_through_the_one_resolver():
    assert weights_path(None, "rec") == default_weights("rec") == WEIGHTS_DIR / "rec.pt"
    assert load_model_file(None, "det")["format"] == "htr-det/1"
    assert "state_dict" in load_model_file(None, "rec")  # the shipped file predates the tag


def test_one_character_table():
    assert DEFAULT_CHARSET == RECOGNISER_CHARSET and RECOGNISER_CHARSET.startswith(CHARSET)
    assert set(RECOGNISER_CHARSET) - set(CHARSET) == {"∞", "ſ"}
    codec = Codec("abc'\",- ")
    for ch in "„‚¬\t’":  # stand-ins the recogniser and the synthetic text now share
        assert codec.normalize(f"a{ch}b").replace(" ", "") == f"a{stand_in(ch)}b".replace(" ", "")
        assert fit_text(f"a{ch}b", "ab'\",-") == " ".join(f"a{stand_in(ch)}b".split())
