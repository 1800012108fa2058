"""The recogniser's training pipeline on a few lines drawn here: batches, curriculum, checkpoint and resume."""
import argparse
import csv
import shutil

import cv2
import numpy as np
import pytest
import torch

import htr.train.rec as rec
from htr.recognition.codec import Codec
from htr.recognition.recognizer import load_weights
from htr.train.augment import augment
from htr.train.data import BatchData, LineSet, Mix, ctc_fits

WORDS = ["ab", "cab", "bad cab", "dab", "abc dc", "cad", "bcd ab", "da"]


def lines() -> LineSet:
    out = LineSet()
    for i, text in enumerate(WORDS):
        img = np.full((40, 20 + 20 * len(text)), 240, np.uint8)
        cv2.putText(img, text, (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 20, 2, cv2.LINE_AA)
        out.images.append(img)
        out.texts.append(text)
        out.names.append(f"{'hooker' if i % 2 else 'testaments'}/doc:{i}")
    return out


def test_batches_are_deterministic_per_index():
    data = BatchData(lines(), Codec("abcd "), 4, Mix(), seed=3, height=40, synth=False)
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


def test_augment_keeps_height():
    rng = np.random.default_rng(0)
    img = lines().images[2]
    for _ in range(20):
        out = augment(rng, img)
        assert out.shape[0] == 40 and out.dtype == np.uint8 and out.shape[1] >= 8


def test_ctc_fits():
    assert ctc_fits([2, 3], 8) and not ctc_fits([2, 2], 8) and ctc_fits([2, 2], 12) and not ctc_fits([], 100)


def test_train_checkpoint_resume_and_export(tmp_path, monkeypatch):
    monkeypatch.setattr(rec, "load_lines", lambda split, cache_dir, height: lines())
    parser = rec.configure_parser(argparse.ArgumentParser())
    common = ["--out", str(tmp_path), "--synth", "off", "--channels", "8,8,16,16", "--hidden", "16",
              "--batch-size", "4", "--workers", "0", "--log-every", "2", "--eval-every", "3", "--warmup", "2",
              "--steps", "20"]
    assert rec.run(parser.parse_args(common + ["--max-steps", "3"])) == 0
    first = torch.load(tmp_path / "last.pt", weights_only=False)
    assert first["step"] == 3
    shutil.copy(tmp_path / "last.pt", tmp_path / "step3.pt")
    assert rec.run(parser.parse_args(common + ["--max-steps", "6"])) == 0
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
    rec.grow_into(big, small.state_dict())
    x = torch.rand(3, 1, 40, 96)
    a, b = small(x).log_softmax(-1), big(x).log_softmax(-1)
    assert (a - b).abs().max() < 0.05 and torch.equal(a.argmax(-1), b.argmax(-1))
    assert big.rnn.weight_hh_l1.shape == (160, 40)
    fresh = build_model(RecConfig(num_classes=7, channels=(4, 8, 8, 8), hidden=40)).eval()
    assert (small(x).log_softmax(-1) - fresh(x).log_softmax(-1)).abs().max() > 0.05  # the check can fail
    with pytest.raises(ValueError, match="cannot grow"):
        rec.grow_into(fresh, {**small.state_dict(), "head.1.bias": torch.zeros(7, 2)})
