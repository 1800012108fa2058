"""The character language model and the beam search that uses it."""
import numpy as np
import pytest

from htr.recognition.codec import BLANK, Codec
from htr.recognition.decode import LanguageModel, beam_decode, greedy_decode
from htr.recognition.lm import CharLM

TEXTS = ["the cat sat on the mat", "then the hat", "a theme of the day", "there the rat ran"]


def test_probabilities_after_a_context_sum_to_one():
    lm = CharLM.build(TEXTS, order=4)
    seen = sorted(lm.counts[""])
    for context in ("", "th", "the ", "zzz", "at o"):
        unseen = lm.prob(context, "\u2603")  # any character never seen carries the same leftover mass
        assert sum(lm.prob(context, c) for c in seen) + unseen == pytest.approx(1.0, abs=1e-9)


def test_counts_favour_what_the_texts_say_and_line_starts_are_a_context():
    lm = CharLM.build(TEXTS, order=4)
    assert lm.prob("th", "e") > 0.5 > lm.prob("th", "a")
    assert lm.prob("", "t") > lm.prob("", "h")  # lines start with t more than h...
    assert lm.prob("ca", "t") > lm.prob("", "t")  # ... and a longer context sharpens it


def test_save_load_and_perplexity(tmp_path):
    lm = CharLM.build(TEXTS, order=3, meta={"weight": 0.7, "bonus": 1.5})
    lm.save(tmp_path / "lm.json.gz")
    back = CharLM.load(tmp_path / "lm.json.gz")
    assert back.order == 3 and back.meta == {"weight": 0.7, "bonus": 1.5}
    assert back.prob("th", "e") == lm.prob("th", "e")
    rng = np.random.default_rng(0)
    shuffled = ["".join(rng.permutation(list(t))) for t in TEXTS]
    assert 1 < lm.perplexity(TEXTS) < lm.perplexity(shuffled)


def test_language_model_mends_an_unsure_character():
    codec = Codec("acehmt ")
    label = {c: codec.charset.index(c) + 2 for c in codec.charset}
    rows = []  # one confident frame per character with a blank after it, but 'e' looks nearly like 'c'
    for ch in "the cat":
        p = np.full(len(codec), 1e-4)
        if ch == "e":
            p[label["c"]], p[label["e"]] = 0.5, 0.4
        else:
            p[label[ch]] = 0.95
        rows += [p, np.eye(len(codec))[BLANK] * 0.95 + 1e-4]
    lp = np.log(np.array(rows) / np.array(rows).sum(1, keepdims=True)).astype(np.float32)
    assert greedy_decode(lp, codec).text == "thc cat"
    assert beam_decode(lp, codec, beam=8).text == "thc cat"
    lm = LanguageModel(CharLM.build(TEXTS * 3, order=4), codec, weight=0.8, bonus=0.0)
    result = beam_decode(lp, codec, beam=8, lm=lm)
    assert result.text == "the cat"
    assert [c.char for c in result.chars] == list("the cat")  # spans come from aligning the chosen text


def test_score_cache_stays_bounded(monkeypatch):
    import htr.recognition.decode as decode

    codec = Codec("acehmt ")
    char_lm = CharLM.build(TEXTS, order=4)
    rng = np.random.default_rng(1)
    lines = [np.log(rng.dirichlet(np.ones(len(codec)) * 0.3, 30)).astype(np.float32) for _ in range(10)]
    kept = LanguageModel(char_lm, codec)
    for lp in lines:  # under the limit: the steps of every line are kept for the next
        decode.prefix_beam_search(lp, beam=6, lm=kept)
    monkeypatch.setattr(decode, "CACHE_LIMIT", len(kept.steps) // 4)
    model = LanguageModel(char_lm, codec)
    for lp in lines:
        decode.prefix_beam_search(lp, beam=6, lm=model)
        alone = LanguageModel(char_lm, codec)
        decode.prefix_beam_search(lp, beam=6, lm=alone)
        assert len(alone.steps) <= len(model.steps) < decode.CACHE_LIMIT + len(alone.steps)


def test_synthetic_texts_are_reproducible_and_hold_names_in_capitals():
    from htr.synth.charset import CHARSET
    from htr.train.lm import synthetic_texts

    codec = Codec(CHARSET)
    texts = synthetic_texts(200, codec, seed=3)
    assert texts == synthetic_texts(200, codec, seed=3) != synthetic_texts(200, codec, seed=4)
    assert len(texts) == 200 and all(0 < len(t) <= 70 and t == codec.normalize(t) for t in texts)
    capitals = [t for t in texts if t.isupper()]
    assert 5 <= len(capitals) <= 40  # about FORM_FIELD_SHARE of them


def _frames(codec: Codec, text: str, unsure: dict[int, tuple[str, str]]) -> np.ndarray:
    """Log-probabilities spelling ``text`` one confident frame per character (and a blank after it); at the
    positions of ``unsure`` the first character is a little likelier than the second."""
    label = {c: codec.charset.index(c) + 2 for c in codec.charset}
    rows = []
    for i, ch in enumerate(text):
        p = np.full(len(codec), 1e-4)
        if i in unsure:
            a, b = unsure[i]
            p[label[a]], p[label[b]] = 0.5, 0.4
        else:
            p[label[ch]] = 0.95
        rows += [p, np.eye(len(codec))[BLANK] * 0.95 + 1e-4]
    return np.log(np.array(rows) / np.array(rows).sum(1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("text", ["hold on", "we hold"])  # a word closed by a space, and the line's last word
def test_word_lists_mend_a_word_the_character_model_cannot(text):
    codec = Codec("adehlnow ")
    at = text.index("hold") + 1
    lp = _frames(codec, text, {at: ("a", "o")})  # 'hald' a little likelier than 'hold' to the recogniser
    flat = CharLM.build(["x"], order=2)  # knows nothing of these letters
    assert beam_decode(lp, codec, beam=8, lm=LanguageModel(flat, codec, 0.0, 0.0)).text == text.replace("hold", "hald")
    lexicon = LanguageModel(flat, codec, 0.0, 0.0, frozenset({"hold", "on", "we"}), known=1.0, unknown=-0.5)
    assert beam_decode(lp, codec, beam=8, lm=lexicon).text == text


def test_word_lists_are_saved_and_picked_by_language(tmp_path):
    from htr.errors import UsageError

    lm = CharLM.build(TEXTS, order=3, meta={"known": 1.0})
    lm.lexicons = {"en": ["the", "cat"], "fr": ["le", "chat"]}
    lm.save(tmp_path / "lm.json.gz")
    back = CharLM.load(tmp_path / "lm.json.gz")
    assert back.lexicons == lm.lexicons
    assert back.words(("en", "fr")) == {"the", "cat", "le", "chat"} and back.words(()) == frozenset()
    with pytest.raises(UsageError, match="no word list for de"):
        back.words(("de",))


def test_lexicon_from_wordfreq_keeps_frequent_words_the_codec_can_spell():
    pytest.importorskip("wordfreq", reason="wordfreq is not installed (pip install -e '.[test]')")
    from htr.synth.charset import CHARSET
    from htr.train.lm import lexicon

    codec = Codec(CHARSET)
    words = lexicon("fr", 2000, codec)
    assert len(words) == 2000 and len(set(words)) == 2000
    assert {"avec", "maison", "être"} <= set(words)
    assert all(w.isalpha() and w == w.lower() and len(w) >= 2 and not codec.unknown_chars(w) for w in words)


def test_train_lm_counts_a_corpus_and_stores_word_lists(tmp_path):
    pytest.importorskip("wordfreq", reason="wordfreq is not installed (pip install -e '.[test]')")
    from htr.cli import main
    from tests.test_recognition_train import write_crops

    words = ["le chat dort", "la maison", "un chat noir", "le soir tombe"]
    crops = write_crops(tmp_path / "crops", words)
    assert main(["data", "compile", f"fr={crops}:train", "-o", str(tmp_path / "corpus"), "--quiet"]) == 0
    out = tmp_path / "lm.json.gz"
    assert main(["train", "lm", "--corpus", str(tmp_path / "corpus"), "--lexicons", "fr,en", "--lexicon-size", "300",
                 "--synthetic", "0", "--order", "3", "--out", str(out)]) == 0
    lm = CharLM.load(out)
    assert lm.meta["lines"] == 4 and lm.meta["sources"] == ["fr"] and set(lm.lexicons) == {"fr", "en"}
    assert len(lm.lexicons["fr"]) == 300 and "maison" in lm.words(("fr",)) and "the" in lm.words(("en",))
    assert lm.prob("ch", "a") > lm.prob("ch", "o")  # counted from the corpus lines
    assert main(["train", "lm", "--corpus", str(tmp_path / "corpus"), "--lexicons", "xx", "--out", str(out)]) == 2


def tiny_corpus(tmp_path):
    """A compiled corpus at tmp_path/corpus: source fr, four train lines; source nuit, three dev lines."""
    from htr.cli import main
    from tests.test_recognition_train import write_crops

    train = write_crops(tmp_path / "train", ["le chat dort", "la maison", "un chat noir", "le soir tombe"])
    dev = write_crops(tmp_path / "dev", ["le chat", "la nuit tombe", "un soir"])
    assert main(["data", "compile", f"fr={train}:train", f"nuit={dev}:dev", "-o", str(tmp_path / "corpus"),
                 "--quiet"]) == 0


def test_train_lm_tunes_on_the_dev_lines_of_a_corpus(tmp_path, capsys):
    from htr.cli import main

    tiny_corpus(tmp_path)
    out = tmp_path / "lm.json.gz"
    tune = ["--tune", "--tune-sources", "nuit", "--lm-weights", "0.3", "--bonuses", "1,2", "--synthetic", "0",
            "--order", "3", "--out", str(out)]
    assert main(["train", "lm", "--corpus", str(tmp_path / "corpus"), "--tune-split", "dev", *tune]) == 0
    printed = capsys.readouterr().out
    assert "tuning on 3 held-out lines" in printed and "bonus 2.00" in printed
    lm = CharLM.load(out)  # counted from every train line, none of the dev ones
    assert lm.meta["lines"] == 4 and lm.meta["recipe"]["tune_split"] == "dev" and lm.meta["bonus"] in (1.0, 2.0)
    assert lm.prob("ni", "u") < lm.prob("ch", "a")
    assert main(["train", "lm", "--tune-split", "dev", *tune]) == 2  # the shared hooker/testaments have no such split


def test_tuning_chooses_the_word_lists_bonuses_at_more_than_the_best_pair(tmp_path, capsys):
    """The word lists' grid runs at each of the best three (weight, bonus) pairs, and the choice is the lowest CER
    of everything scored (at beam 40 the best pair without the word lists was not the best with them)."""
    import re

    pytest.importorskip("wordfreq", reason="wordfreq is not installed (pip install -e '.[test]')")

    from htr.cli import main

    tiny_corpus(tmp_path)
    out = tmp_path / "lm.json.gz"
    assert main(["train", "lm", "--corpus", str(tmp_path / "corpus"), "--tune-split", "dev", "--tune",
                 "--tune-sources", "nuit", "--lm-weights", "0.3,0.6", "--bonuses", "1,2", "--lexicons", "fr",
                 "--lexicon-size", "200", "--lang", "fr", "--known", "0,2", "--unknown", "0,-1", "--synthetic", "0",
                 "--order", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    with_words = set(re.findall(r"weight (\S+) bonus (\S+) word lists fr", printed))
    assert len(with_words) == 3  # three of the four pairs
    scores = [float(x) for x in re.findall(r"  weight .*CER (\S+)", printed)]
    chosen = re.search(r"chosen: (.*) \(CER (\S+)\)", printed)
    assert float(chosen.group(2)) == min(scores)
    lm = CharLM.load(out)
    assert (f"{lm.meta['weight']:.2f}", f"{lm.meta['bonus']:.2f}") in with_words | {
        (w, b) for w, b in re.findall(r"weight (\S+) bonus (\S+): CER", printed)}
