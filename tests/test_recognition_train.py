"""The recogniser's training pipeline on a few lines drawn here: batches, curriculum, checkpoint and resume."""
import argparse
import csv
import shutil

import cv2
import numpy as np
import pytest
import torch

import htr.train.rec as rec
from htr.train.grow import grow_into
from htr.recognition.codec import Codec
from htr.recognition.recognizer import load_weights
from htr.train.augment import augment
from htr.data.corpus import open_lines
from htr.train.data import BatchData, Mix, ctc_fits, new_characters, training_lines

WORDS = ["ab", "cab", "bad cab", "dab", "abc dc", "cad", "bcd ab", "da"]


def write_crops(folder, words=WORDS):
    """Line crops of ``words`` drawn here, listed in folder/labels.tsv."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(words):
        img = np.full((40, 20 + 20 * len(text)), 240, np.uint8)
        cv2.putText(img, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 20, 2, cv2.LINE_AA)
        cv2.imwrite(str(folder / f"{i}.png"), img)
        rows.append(f"{i}.png\t{text}")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture
def crops(tmp_path):
    return write_crops(tmp_path / "words")


def lines(crops, tmp_path):
    train, dev, _ = training_lines([f"{crops}:train"], tmp_path / "run", 40)
    return train


def test_batches_are_deterministic_per_index(crops, tmp_path):
    data = BatchData(lines(crops, tmp_path), Codec("abcd "), 4, Mix(), seed=3, height=40, synth=False)
    a, b, c = data[5], data[5], data[6]
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["targets"], b["targets"])
    assert not torch.equal(a["targets"], c["targets"]) or not torch.equal(a["x"], c["x"])
    assert a["x"].shape[:3] == (4, 1, 40) and a["x"].shape[3] % 4 == 0
    assert a["target_lengths"].sum() == len(a["targets"]) and a["n_synth"] == 0
    assert (a["widths"] // 4 >= a["target_lengths"]).all()


def test_curriculum():
    mix = Mix(synth_steps=100, ramp_steps=1000, synth_final=0.3, real_start=0.3)
    assert mix.synth_ratio(0, True) == 1.0 and mix.synth_ratio(0, False) == 0.0
    assert mix.synth_ratio(5000, True) == pytest.approx(0.3)
    assert mix.real_quantile(100, True) == pytest.approx(0.3) and mix.real_quantile(1000, True) == 1.0
    assert mix.synth_chars(0) < mix.synth_chars(100) == 70


def test_augment_keeps_height(crops, tmp_path):
    rng = np.random.default_rng(0)
    img = np.array(lines(crops, tmp_path).image(2))
    for _ in range(20):
        out = augment(rng, img)
        assert out.shape[0] == 40 and out.dtype == np.uint8 and out.shape[1] >= 8


def test_ctc_fits():
    assert ctc_fits([2, 3], 8) and not ctc_fits([2, 2], 8) and ctc_fits([2, 2], 12) and not ctc_fits([], 100)


def test_train_checkpoint_resume_and_export(crops, tmp_path):
    parser = rec.configure_parser(argparse.ArgumentParser())
    common = ["--out", str(tmp_path / "run"), "--data", f"{crops}:train", "--data", f"dev={crops}:dev",
              "--synth", "off", "--channels", "8,8,16,16", "--hidden", "16",
              "--batch-size", "4", "--workers", "0", "--log-every", "2", "--eval-every", "3", "--warmup", "2",
              "--steps", "20"]
    assert rec.run(parser.parse_args(common + ["--max-steps", "3"])) == 0
    tmp_path = tmp_path / "run"
    first = torch.load(tmp_path / "last.pt", weights_only=False)
    assert first["step"] == 3
    shutil.copy(tmp_path / "last.pt", tmp_path / "step3.pt")
    assert "eval_every = 3" in (tmp_path / "recipe.toml").read_text()
    assert rec.run(parser.parse_args(["--out", str(tmp_path), "--max-steps", "6"])) == 0  # the saved recipe
    second = torch.load(tmp_path / "last.pt", weights_only=False)
    assert second["step"] == 6 and second["scheduler"]["last_epoch"] == 6
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 3, 4, 6]
    assert rows[1]["dev_cer"] != "" and (tmp_path / "curve.png").exists() and (tmp_path / "best.pt").exists()
    shutil.copy(tmp_path / "step3.pt", tmp_path / "last.pt")  # resumed from an older checkpoint:
    assert rec.run(parser.parse_args(common + ["--max-steps", "6"])) == 0  # its later rows are not doubled
    with open(tmp_path / "log.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 3, 4, 6]
    assert rec.run(parser.parse_args(["--export", str(tmp_path / "last.pt"), str(tmp_path / "rec.pt")])) == 0
    model, codec, info = load_weights(tmp_path / "rec.pt")
    assert info["meta"]["step"] == 6 and codec.charset == second["charset"]
    assert rec.run(parser.parse_args(["--out", str(tmp_path), "--max-steps", "16", "--eval-every", "16"])) == 0
    with open(tmp_path / "log.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f) if r["loss"]]
    assert np.mean(losses[-3:]) < losses[0] - 2, losses  # it learns (the CTC loss of these lines starts near 39)


def test_help_runs():
    with pytest.raises(SystemExit) as exit_info:
        rec.main(["--help"])
    assert exit_info.value.code == 0


def test_grown_lstm_first_computes_what_the_small_one_did():
    from htr.recognition.model import RecConfig, build_model

    torch.manual_seed(0)
    small = build_model(RecConfig(num_classes=7, channels=(4, 8, 8, 8), hidden=16)).eval()
    with torch.no_grad():  # a trained-looking model: weights away from their initialisation
        for p in small.parameters():
            p.add_(0.3 * torch.randn_like(p))
    big = build_model(RecConfig(num_classes=7, channels=(4, 8, 8, 8), hidden=40)).eval()
    grow_into(big, small.state_dict())
    x = torch.rand(3, 1, 40, 96)
    a, b = small(x).log_softmax(-1), big(x).log_softmax(-1)
    assert (a - b).abs().max() < 0.05 and torch.equal(a.argmax(-1), b.argmax(-1))
    assert big.rnn.weight_hh_l1.shape == (160, 40)
    fresh = build_model(RecConfig(num_classes=7, channels=(4, 8, 8, 8), hidden=40)).eval()
    assert (small(x).log_softmax(-1) - fresh(x).log_softmax(-1)).abs().max() > 0.05  # the check can fail
    with pytest.raises(ValueError, match="cannot grow"):
        grow_into(fresh, {**small.state_dict(), "head.1.bias": torch.zeros(7, 2)})


def test_grown_cnn_first_computes_what_the_narrow_one_did():
    from htr.recognition.model import RecConfig, build_model

    torch.manual_seed(1)
    narrow = build_model(RecConfig(num_classes=7, channels=(4, 8, 8, 8), blocks=(0, 0, 1, 0), hidden=16))
    with torch.no_grad():
        for p in narrow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    narrow.train()(torch.rand(8, 1, 40, 96))  # batch-norm statistics away from their start
    narrow.eval()
    wide = build_model(RecConfig(num_classes=7, channels=(6, 12, 12, 16), blocks=(0, 0, 1, 0), hidden=16)).eval()
    grow_into(wide, narrow.state_dict())
    x = torch.rand(3, 1, 40, 96)
    a, b = narrow(x).log_softmax(-1), wide(x).log_softmax(-1)
    assert (a - b).abs().max() < 0.05 and torch.equal(a.argmax(-1), b.argmax(-1))
    assert wide.cnn[0][0].weight.shape == (6, 1, 3, 3) and wide.proj[0].in_features == 16 * 5
    deeper = build_model(RecConfig(num_classes=7, channels=(4, 8, 8, 8), blocks=(0, 0, 1, 0), hidden=16, layers=3))
    with pytest.raises(ValueError, match="no such parameter"):
        grow_into(deeper, narrow.state_dict())


def test_groups_are_mixed_by_weight(tmp_path):
    a, b = write_crops(tmp_path / "a"), write_crops(tmp_path / "b", [w.upper() for w in WORDS])
    train, _, weights = training_lines([f"{a}:train", f"{b}:train:3"], tmp_path / "run", 40)
    assert weights == {0: 1.0, 1: 3.0} and sorted(set(train.group)) == [0, 1]
    data = BatchData(train, Codec("abcdABCD "), 4, Mix(), seed=0, height=40, synth=False, weights=weights)
    upper = [data[k]["targets"].max().item() > Codec("abcdABCD ").encode("d")[0] for k in range(200)]
    assert 0.65 < np.mean(upper) < 0.85  # group b's share: 3 x its size over (1 + 3) x the same size


def test_fine_tuning_grows_the_output_layer_and_leaves_weights(crops, tmp_path):
    parser = rec.configure_parser(argparse.ArgumentParser())
    small = ["--synth", "off", "--channels", "8,8,16,16", "--hidden", "16", "--batch-size", "4", "--workers", "0"]
    assert rec.run(parser.parse_args(small + ["--out", str(tmp_path / "base"), "--data", f"{crops}:train",
                                              "--steps", "4"])) == 0
    base, base_codec, _ = load_weights(tmp_path / "base" / "weights.pt")
    texts = ["αβγ ab", "βγα", "γαβ", "ab"]  # Greek: outside the base model's charset
    new = write_crops(tmp_path / "new", texts)
    assert new_characters(texts, base_codec) == "αβγ" and new_characters(texts, base_codec, min_count=4) == ""
    run = tmp_path / "tuned"
    assert rec.run(parser.parse_args(["--init", str(tmp_path / "base" / "weights.pt"), "--data", f"{new}:train",
                                      "--out", str(run), "--minutes", "0.05", "--batch-size", "4",
                                      "--workers", "0", "--log-every", "1"])) == 0
    model, codec, _ = load_weights(run / "weights.pt")
    assert not base.cfg.packed and not model.cfg.packed  # new runs run the LSTM over the padded batch
    assert codec.charset.startswith(base_codec.charset) and codec.charset[len(base_codec.charset):] == "αβγ"
    assert model.head[1].out_features == base.head[1].out_features + 3
    log = list(csv.DictReader(open(run / "log.csv")))
    assert float(log[-1]["time_s"]) < 0.05 * 60 + 30  # stopped by --minutes, not by --steps


def test_recognition_of_a_compiled_corpus_is_the_ground_truth(crops, tmp_path):
    train = lines(crops, tmp_path)
    assert train.texts == WORDS and [train.image(i).shape[0] for i in range(len(train))] == [40] * len(WORDS)
    assert open_lines(tmp_path / "run" / "corpus").texts == WORDS


def test_one_source_of_a_corpus_is_data_of_its_own(tmp_path):
    from htr.cli import main

    a, b = write_crops(tmp_path / "a"), write_crops(tmp_path / "b", [w.upper() for w in WORDS])
    corpus = tmp_path / "corpus"
    assert main(["data", "compile", f"a={a}:train", f"b={b}:train", "-o", str(corpus), "--quiet"]) == 0
    train, _, weights = training_lines([f"{corpus / 'b'}:2"], tmp_path / "run", 40)
    assert train.texts == [w.upper() for w in WORDS] and weights == {0: 2.0}
    assert not (tmp_path / "run" / "corpus").exists()  # read in place, not compiled again
    both, _, _ = training_lines([str(corpus)], tmp_path / "run", 40)
    assert sorted(both.texts) == sorted(WORDS + [w.upper() for w in WORDS])


def test_stride_8_halves_the_frames_and_batches_fit_it(crops, tmp_path):
    from htr.recognition.model import RecConfig, build_model

    model = build_model(RecConfig(num_classes=7, channels=(4, 8, 8, 8), hidden=8, stride=8)).eval()
    assert model(torch.zeros(2, 1, 40, 160), torch.tensor([160, 80])).shape[1] == 20
    assert model.frames(torch.tensor([160, 7])).tolist() == [20, 1]
    with pytest.raises(ValueError, match="stride"):
        build_model(RecConfig(num_classes=7, stride=6))
    data = BatchData(lines(crops, tmp_path), Codec("abcd "), 4, Mix(), seed=0, height=40, synth=False, stride=8)
    for k in range(5):
        batch = data[k]
        frames = batch["widths"] // 8
        assert (frames >= batch["target_lengths"]).all()


def test_a_synthetic_line_with_nothing_drawable_is_replaced_not_fatal(monkeypatch):
    """Session 22's cycle stopped at step 26,600 on 'no 122' in a font without those glyphs: draw another line."""
    from htr.synth import lines as synth_lines
    from htr.train.data import synth_available, synth_line

    if synth_available() is not None:
        pytest.skip(f"synthetic lines unavailable: {synth_available()}")
    render, calls = synth_lines.render_line, []

    def nothing_first(rng, **kwargs):
        calls.append(kwargs["text"])
        if len(calls) == 1:
            raise ValueError(f"nothing to draw for {kwargs['text']!r}")
        return render(rng, **kwargs)

    monkeypatch.setattr(synth_lines, "render_line", nothing_first)
    img, text = synth_line(np.random.default_rng(0), 30, 64)
    assert len(calls) == 2 and img.shape[0] == 64 and text
