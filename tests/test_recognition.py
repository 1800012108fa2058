"""Recogniser pieces without training: codec, CTC decoding, model shapes, the weights file, Recognizer."""
import numpy as np
import pytest
import torch

from htr.recognition.codec import BLANK, UNKNOWN, UNKNOWN_CHAR, Codec
from htr.recognition.decode import align, beam_decode, greedy_decode, prefix_beam_search, quiet_long_blanks
from htr.recognition.model import RecConfig, build_model, count_macs
from htr.recognition.recognizer import Recognizer, load_weights, make_batch, normalize, save_weights

CODEC = Codec("abc ")
A, B, C, SP = 2, 3, 4, 5


def logprobs(rows, classes=len(CODEC)):
    """(T, C) log-probabilities: each row is (label, p) with the rest of the mass on blank."""
    m = np.full((len(rows), classes), 1e-4)
    for t, (label, p) in enumerate(rows):
        m[t, label] = p
        m[t, BLANK] += 1 - m[t].sum()
    return np.log(m).astype(np.float32)


def test_codec_blank_unknown_and_round_trip():
    codec = Codec()
    assert codec.char(BLANK) == "" and BLANK == 0 and UNKNOWN == 1
    text = "Größe, año — £3 & 5€ à 20° § 1… «Noël» œuvre"
    labels = codec.encode(text)
    assert BLANK not in labels and UNKNOWN not in labels
    assert codec.decode(labels) == text
    assert len(codec) == len(codec.charset) + 2


def test_codec_unknown_characters():
    codec = Codec("abc ")
    assert codec.encode("a→b") == [A, UNKNOWN, B]
    assert codec.decode(codec.encode("a→b")) == "a" + UNKNOWN_CHAR + "b"
    assert codec.encode("a→b", unknown="drop") == [A, B]
    with pytest.raises(ValueError, match="U\\+2192"):
        codec.encode("a→b", unknown="error")
    assert codec.unknown_chars("ab→c∑") == {"→", "∑"}
    # Stand-ins before unknown: accents stripped, typographic quotes straightened.
    assert Codec("e'\" ").encode("é’”") == Codec("e'\" ").encode("e'\"")
    assert codec.encode("a  \t b ") == [A, SP, B]  # whitespace runs collapse


def test_greedy_decode_text_confidence_and_spans():
    lp = logprobs([(A, .9), (A, .8), (BLANK, .9), (B, .7), (SP, .9), (BLANK, .9), (C, .95), (BLANK, .9)])
    r = greedy_decode(lp, CODEC, stride=4)
    assert r.text == "ab c"
    assert [c.char for c in r.chars] == ["a", "b", " ", "c"]
    assert r.chars[0].confidence == pytest.approx(0.9, abs=1e-3)
    assert r.chars[1].confidence == pytest.approx(0.7, abs=1e-3)
    # 'a' is frames 0-1, 'b' frame 3: the gap (frame 2) is split between them; spans are in crop pixels.
    assert (r.chars[0].x0, r.chars[0].x1) == (0, 10)
    assert (r.chars[1].x0, r.chars[1].x1) == (10, 16)
    assert (r.chars[3].x0, r.chars[3].x1) == (24, 28)
    assert [w.text for w in r.words] == ["ab", "c"]
    assert (r.words[0].x0, r.words[0].x1) == (0, 16)
    assert r.words[0].confidence == pytest.approx(0.7, abs=1e-3)  # a word is as sure as its weakest character
    assert r.confidence == pytest.approx((0.9 + 0.7 + 0.95) / 3, abs=1e-3)  # mean over non-space characters


def test_greedy_decode_repeats_and_empty():
    assert greedy_decode(logprobs([(A, .9), (BLANK, .9), (A, .9)]), CODEC).text == "aa"
    assert greedy_decode(logprobs([(A, .9), (A, .9)]), CODEC).text == "a"
    empty = greedy_decode(logprobs([(BLANK, .9)] * 3), CODEC)
    assert empty.text == "" and empty.words == [] and 0.9 < empty.confidence <= 1


def test_beam_agrees_with_greedy_on_peaked_logits():
    rng = np.random.default_rng(0)
    path = rng.choice([BLANK, A, B, C, SP], 40)
    lp = logprobs([(int(k), 0.97) for k in path])
    g, b = greedy_decode(lp, CODEC), beam_decode(lp, CODEC, beam=8)
    assert b.text == g.text
    assert [(c.x0, c.x1) for c in b.chars] == [(c.x0, c.x1) for c in g.chars]


def test_beam_beats_greedy_where_paths_add_up():
    # Each frame: blank 0.6, 'a' 0.4. Best path: blank blank -> "" (p = 0.36);
    # but "a" has three paths (a-, -a, aa) worth 0.24 + 0.24 + 0.16 = 0.64.
    lp = np.log(np.array([[0.6, 1e-9, 0.4, 1e-9, 1e-9, 1e-9]] * 2, np.float64)).astype(np.float32)
    assert greedy_decode(lp, CODEC).text == ""
    labels, score = prefix_beam_search(lp, beam=4)
    assert labels == (A,) and np.exp(score) == pytest.approx(0.64, abs=1e-3)
    assert beam_decode(lp, CODEC, beam=4).text == "a"


def test_beam_reads_nothing_in_a_long_blank_stretch():
    # "a", then a blank margin of 40 frames each giving 'b' 12%: summed over the paths, the search alone appends b's
    # that no frame favours; inside the stretch only blanks are read, and short gaps are searched as before.
    lp = logprobs([(A, .97)] + [(B, .12)] * 40)
    assert greedy_decode(lp, CODEC).text == "a"
    labels, _ = prefix_beam_search(lp, beam=8)
    assert labels[0] == A and set(labels[1:]) == {B}
    assert beam_decode(lp, CODEC, beam=8).text == "a"
    quiet = quiet_long_blanks(lp, min_run=12, margin=3)
    assert np.array_equal(quiet[:4], lp[:4]) and np.array_equal(quiet[-3:], lp[-3:])
    assert np.all(quiet[4:-3, BLANK] == 0) and np.all(np.isneginf(quiet[4:-3, 1:]))
    short = logprobs([(A, .97)] + [(B, .4)] * 2)
    assert np.array_equal(quiet_long_blanks(short), short)


def test_forced_alignment():
    lp = logprobs([(A, .9), (BLANK, .9), (B, .8), (B, .8), (BLANK, .9), (A, .9)])
    assert align(lp, [A, B, A]) == [(A, 0, 0), (B, 2, 3), (A, 5, 5)]
    assert align(lp[:1], [A, A]) == []  # 'aa' needs three frames


def test_model_forward_shapes_for_variable_widths():
    cfg = RecConfig(num_classes=len(CODEC), height=40)
    model = build_model(cfg).eval()
    crops = [np.random.default_rng(i).random((40, w)).astype(np.float32) for i, w in enumerate((37, 123, 400))]
    x, widths = make_batch(crops)
    assert x.shape == (3, 1, 40, 400) and widths.tolist() == [37, 123, 400]
    with torch.no_grad():
        out = model(x, widths)
        alone = model(x[1:2, :, :, :124], widths[1:2])
    assert out.shape == (3, 100, len(CODEC))
    assert model.frames(widths).tolist() == [9, 30, 100]
    # Padding leaves a line's logits alone (packed LSTM, no cross-sample ops in eval mode) except in the
    # last frames, whose receptive field sees padding (BatchNorm shifts it away from zero) or the border.
    assert torch.allclose(out[1, :22], alone[0, :22], atol=1e-3)
    assert count_macs(model, 1000) < 600e6


def test_padded_lstm_skips_packing_and_old_configs_stay_packed(monkeypatch):
    from torch import nn

    crops = [np.random.default_rng(i).random((40, w)).astype(np.float32) for i, w in enumerate((300, 400))]
    x, widths = make_batch(crops, multiple=32)
    assert x.shape[-1] == 416 and widths.tolist() == [300, 400]
    packs = []
    real_pack = nn.utils.rnn.pack_padded_sequence
    monkeypatch.setattr(nn.utils.rnn, "pack_padded_sequence", lambda *a, **k: packs.append(1) or real_pack(*a, **k))
    for packed in (True, False):
        model = build_model(RecConfig(num_classes=len(CODEC), height=40, packed=packed)).eval()
        with torch.no_grad():
            assert model(x, widths).shape == (2, 104, len(CODEC))
        assert len(packs) == 1  # only the packed model packs
    cfg = RecConfig(num_classes=5).to_dict()
    del cfg["packed"]
    assert RecConfig.from_dict(cfg).packed  # weights files from before the option


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        build_model(RecConfig(num_classes=0))
    with pytest.raises(ValueError):
        build_model(RecConfig(num_classes=5, height=36))


def test_weights_round_trip(tmp_path):
    codec = Codec("abcdé ")
    model = build_model(RecConfig(num_classes=len(codec), channels=(8, 8, 16, 16), hidden=16)).eval()
    path = tmp_path / "rec.pt"
    save_weights(path, model, codec, {"step": 7})
    blob = torch.load(path, weights_only=True)
    assert set(blob) >= {"state_dict", "config", "charset", "preprocess", "meta"}
    assert blob["charset"] == "abcdé " and blob["preprocess"]["height"] == 40 and blob["meta"]["step"] == 7
    assert all(v.dtype == torch.float16 for v in blob["state_dict"].values() if v.is_floating_point())
    loaded, codec2, info = load_weights(path)
    assert codec2.charset == codec.charset and info["config"] == model.cfg.to_dict()
    x, widths = make_batch([np.random.default_rng(0).random((40, 90)).astype(np.float32)])
    with torch.no_grad():
        assert torch.allclose(model(x, widths), loaded(x, widths), atol=2e-2)


def test_recognizer_batches_and_keeps_order(tmp_path):
    codec = Codec("abc ")
    model = build_model(RecConfig(num_classes=len(codec), channels=(8, 8, 16, 16), hidden=16))
    save_weights(tmp_path / "rec.pt", model, codec)
    rec = Recognizer(tmp_path / "rec.pt", batch_size=2)
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 255, (h, w), dtype=np.uint8) for h, w in ((40, 300), (80, 100), (20, 64))]
    crops.append(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))  # RGB works too
    lps = rec.logprobs(crops)
    assert [lp.shape[0] for lp in lps] == [75, 12, 32, 12]  # each resized to height 40, then W // 4
    results = rec.recognize(crops)
    assert len(results) == 4 and all(0 <= r.confidence <= 1 for r in results)
    for r, crop in zip(results, crops):  # spans come back in the crop's own pixels
        assert all(0 <= c.x0 <= c.x1 <= crop.shape[1] + 1 for c in r.chars)


def test_normalize_maps_ink_high_and_paper_low():
    line = np.full((40, 100), 220, np.uint8)
    line[15:25, 10:90] = 30
    x = normalize(line)
    assert x.dtype == np.float32 and x[0, 0] == pytest.approx(0, abs=1e-6) and x[20, 50] == pytest.approx(1)


def test_crop_folders_listed_in_labels_tsv_or_lines_jsonl(tmp_path):
    import json

    from PIL import Image

    from htr.errors import FormatError
    from htr.data.lines import folder_documents

    for i, word in enumerate(["ALPHA", "BETA", "GAMMA"]):
        Image.new("RGB", (60 + 20 * i, 20), "white").save(tmp_path / f"{i}.png")
    tsv, jsonl = tmp_path / "tsv", tmp_path / "jsonl"
    for folder in (tsv, jsonl):
        folder.mkdir()
        for i in range(3):
            (folder / f"{i}.png").write_bytes((tmp_path / f"{i}.png").read_bytes())
    (tsv / "labels.tsv").write_text("0.png\tALPHA\n1.png\tBETA\n\n2.png\tGAMMA\n")
    (jsonl / "lines.jsonl").write_text("".join(json.dumps({"image": f"{i}.png", "text": t, "kind": "print"}) + "\n"
                                               for i, t in enumerate(["ALPHA", "BETA", "GAMMA"])))
    for folder in (tsv, jsonl):
        (doc,) = list(folder_documents(folder, height=32))
        assert [line.text for line in doc] == ["ALPHA", "BETA", "GAMMA"]
        assert [line.image.shape for line in doc] == [(32, 96), (32, 128), (32, 160)]
    (tsv / "labels.tsv").write_text("0.png ALPHA\n")
    with pytest.raises(FormatError, match="line 1"):
        list(folder_documents(tsv))


def test_forced_alignment_of_a_long_line():
    rows = [(A if i % 2 else B, .9) for i in range(90)]  # 90 labels: 181 CTC states, past int8 offsets
    lp = logprobs([r for row in rows for r in (row, (BLANK, .9))])
    runs = align(lp, [label for label, _ in rows])
    assert [r[0] for r in runs] == [label for label, _ in rows] and runs[-1][1] == 178
    assert beam_decode(lp, CODEC, beam=4).text == "ba" * 45


def test_beam_search_reads_word_crops_with_blank_margins_as_well_as_greedy():
    """Real crops with wide blank margins (../shared/data/names: a name in a form field): the beam search (no
    language model) reads them about as well as the best path, not with letters appended in the margins."""
    from htr.evaluate import score_text
    from htr.imageio import load_image
    from tests.shared import shared_path

    root = shared_path("data", "names")
    rows = [line.split("\t") for line in (root / "labels.tsv").read_text().splitlines()[:150]]
    crops = [load_image(root / name) for name, _ in rows]
    crops = [c if c.ndim == 2 else c.mean(axis=2).astype(np.uint8) for c in crops]
    cer = {}
    for beam in (0, 10):
        reads = Recognizer(beam=beam, lm=None).recognize(crops)
        errors = sum(score_text(r.text, text).char_errors for r, (_, text) in zip(reads, rows))
        cer[beam] = errors / sum(len(text) for _, text in rows)
    assert cer[10] <= cer[0] + 0.02, cer
