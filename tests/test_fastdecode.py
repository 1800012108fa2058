"""The compiled beam search and alignment (htr.recognition.fastdecode) against the Python reference."""
import numpy as np
import pytest

from htr.paths import DEFAULT_LM
from htr.recognition import decode, fastdecode
from htr.recognition.codec import Codec
from htr.recognition.lm import CharLM

TEXTS = ["the cat sat on the mat", "then the hat, she said", "a theme of the day", "there the rat ran. Then"]


def _lines(n_classes: int, seed: int, count: int = 30) -> list[np.ndarray]:
    """Log-probabilities of lines a recogniser could give: mostly peaked frames, some unsure."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        frames = int(rng.integers(1, 120))
        alpha = np.where(rng.random((frames, 1)) < 0.3, 0.5, 0.05) * np.ones(n_classes)
        lines.append(np.log(np.array([rng.dirichlet(a) for a in alpha]) + 1e-12).astype(np.float32))
    return lines


@pytest.mark.parametrize("beam", [1, 3, 10])
@pytest.mark.parametrize("with_lm", ["none", "chars", "words"])
def test_the_compiled_search_finds_what_the_python_one_finds(beam, with_lm):
    codec = Codec("acehmnorst ,.T")
    model = None
    if with_lm != "none":
        words = frozenset({"the", "cat", "hat", "then"}) if with_lm == "words" else frozenset()
        model = decode.LanguageModel(CharLM.build(TEXTS, order=4), codec, 0.6, 0.8, words, 1.0, -0.7)
    compiled = model.compiled() if model is not None else None
    found = 0
    for lp in _lines(len(codec), seed=beam):
        labels, score = decode.prefix_beam_search(lp, beam, lm=model)
        fast_labels, fast_score = fastdecode.prefix_beam_search(lp, beam, lm=compiled)
        assert fast_labels == labels
        assert fast_score == pytest.approx(score, rel=1e-9, abs=1e-9)
        found += bool(labels)
    assert found >= 20  # the lines spell something


def test_the_shipped_language_model_scores_as_the_python_one(tmp_path, monkeypatch):
    if not DEFAULT_LM.is_file():
        pytest.skip(f"no shipped language model at {DEFAULT_LM}")
    monkeypatch.setenv("HTR_CACHE", str(tmp_path))
    char_lm = CharLM.load(DEFAULT_LM)
    codec = Codec("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'-0123456789éàè&£\u2603")
    model = decode.LanguageModel(char_lm, codec, 0.3, 1.0, char_lm.words(("en", "fr")), 1.0, -1.0)
    for lp in _lines(len(codec), seed=5, count=15):
        assert fastdecode.prefix_beam_search(lp, 10, lm=model.compiled())[0] == decode.prefix_beam_search(lp, 10, lm=model)[0]
    cached = list((tmp_path / "lm").glob("*.npz"))
    assert len(cached) == 1  # the tables, under the file's digest: a second model loads them
    again = decode.LanguageModel(CharLM.load(DEFAULT_LM), codec, 0.3, 1.0).compiled()
    assert np.array_equal(again.ngram_probs, model.compiled().ngram_probs)


def test_alignment_ties_and_impossible_labels():
    lp = np.log(np.full((4, 3), 1 / 3)).astype(np.float32)  # every path as likely as any other
    assert decode.align(lp, [2, 2]) == [(2, 0, 0), (2, 2, 2)]  # staying wins ties
    assert decode.align(lp[:2], [2, 2]) == []  # 'aa' needs three frames
