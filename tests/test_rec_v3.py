"""Recogniser v3's pieces: the strided-stem shape, the auxiliary CTC head, CPU-time budgets, and corpora read at
another height than they were compiled at."""
import argparse
import csv

import cv2
import numpy as np
import pytest
import torch
from torch import nn

import htr.train.rec as rec
from htr.data.corpus import open_lines
from htr.recognition.model import RecConfig, build_model, count_macs
from htr.recognition.recognizer import load_weights
from tests.test_recognition_train import write_crops

V3 = dict(height=64, stem=True, stride=8, channels=(8, 16, 24, 32), blocks=(0, 0, 1, 1), hidden=16)


def test_stem_shape_reads_w_over_8_frames_and_the_aux_head_matches():
    model = build_model(RecConfig(num_classes=9, aux_ctc=True, **V3)).eval()
    x, widths = torch.rand(2, 1, 64, 200), torch.tensor([200, 120])
    logits, aux = model(x, widths, aux=True)
    assert logits.shape == aux.shape == (2, 25, 9)
    assert torch.equal(model(x, widths), logits)  # reading: the main head alone, the same logits
    assert model.frames(widths).tolist() == [25, 15]
    assert model.proj[0].in_features == 32 * 4  # H/16 rows folded into the channels
    with pytest.raises(ValueError, match="stride 8"):
        build_model(RecConfig(num_classes=9, **{**V3, "stride": 4}))
    with pytest.raises(ValueError, match="multiple of 16"):
        build_model(RecConfig(num_classes=9, **{**V3, "height": 56}))


@pytest.mark.parametrize("cfg", [dict(V3), dict(height=40, channels=(8, 16, 16, 24), blocks=(0, 0, 1, 0), hidden=16)])
def test_count_macs_matches_the_layers_as_run(cfg):
    """count_macs (arithmetic over the layers) against a count of what the convolutions and linears really do."""
    model = build_model(RecConfig(num_classes=9, layers=1, **cfg)).eval()
    counted = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            counted.append(output.shape[2] * output.shape[3] * module.out_channels * k)
        else:
            counted.append(output.shape[1] * module.in_features * module.out_features)

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.register_forward_hook(hook)
    model(torch.rand(1, 1, cfg["height"], 1000))
    t = 1000 // model.cfg.stride
    lstm = 2 * t * 4 * (model.cfg.hidden + model.cfg.hidden) * model.cfg.hidden
    assert count_macs(model, 1000) == sum(counted) + lstm


def test_corpus_read_at_another_height(tmp_path):
    from htr.cli import main

    crops = write_crops(tmp_path / "words")
    assert main(["data", "compile", f"w={crops}:train", "-o", str(tmp_path / "c40"), "--height", "40", "--quiet"]) == 0
    lines = open_lines(tmp_path / "c40")
    tall = lines.at_height(64)
    assert tall.height == 64 and lines.height == 40 and tall.texts == lines.texts
    for i in range(len(lines)):
        stored = lines.image(i)
        assert tall.image(i).shape == (64, tall.widths[i]) == (64, round(stored.shape[1] * 64 / 40))
        assert np.array_equal(tall.image(i), cv2.resize(stored, (tall.widths[i], 64), interpolation=cv2.INTER_LINEAR))
    assert tall.at_height(40).image(3).shape == lines.image(3).shape  # back from the stored crops, not re-resized
    with pytest.raises(ValueError, match="another height"):
        tall.extend(lines)


def test_v3_trains_with_the_aux_head_on_a_cpu_clock_from_a_40px_corpus(tmp_path):
    from htr.cli import main

    crops = write_crops(tmp_path / "words")
    corpus = tmp_path / "c40"
    assert main(["data", "compile", f"w={crops}:train", f"dev={crops}:dev", "-o", str(corpus), "--height", "40",
                 "--quiet"]) == 0
    parser = rec.configure_parser(argparse.ArgumentParser())
    out = tmp_path / "run"
    args = ["--out", str(out), "--data", str(corpus), "--synth", "off", "--height", "64", "--stem", "--stride", "8",
            "--channels", "8,16,24,32", "--blocks", "0,0,1,1", "--hidden", "16", "--aux-ctc", "0.5",
            "--clock", "cpu", "--minutes", "10", "--batch-size", "4", "--workers", "0", "--threads", "1",
            "--log-every", "2", "--eval-every", "4", "--warmup", "2", "--max-steps", "8", "--lr", "3e-3"]
    assert rec.run(parser.parse_args(args)) == 0
    with open(out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    cpu = [float(r["cpu_s"]) for r in rows]
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8] and cpu == sorted(cpu) and cpu[-1] > 0
    assert rows[1]["dev_cer"] and rows[3]["dev_cer"]
    ckpt = torch.load(out / "last.pt", weights_only=False)
    assert ckpt["cpu_s"] == pytest.approx(cpu[-1], abs=0.1) and ckpt["elapsed"] <= ckpt["cpu_s"] + 0.1
    assert any(k.startswith("aux.") for k in ckpt["model"])
    model, _, info = load_weights(out / "weights.pt")
    assert model.cfg.stem and model.cfg.aux_ctc and info["preprocess"] == {"height": 64, "normalize": "invert-stretch",
                                                                          "stride": 8}


def load_device_shard():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "training" / "device_shard.py"
    spec = importlib.util.spec_from_file_location("device_shard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_device_shard_keeps_the_dev_subset_and_unpacks_to_the_recipes_corpus(tmp_path):
    """training/device_shard.py: the dev subset whole, a share of train as the budget allows, crops back as a
    compiled corpus at the recipe's paths (lossy WebP: close, not equal), a real corpus never overwritten."""
    from htr.cli import main

    shard_tool = load_device_shard()
    crops = write_crops(tmp_path / "words", words=[f"word {i} abc" for i in range(40)])
    corpus = tmp_path / "c64"
    assert main(["data", "compile", f"w={crops}:train", f"dev={crops}:dev", "-o", str(corpus), "--height", "64",
                 "--quiet"]) == 0
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'data = ["{corpus}/w:2", "{corpus}/dev"]\neval_lines = 10\n')
    whole = shard_tool.pack(recipe, tmp_path / "whole", mib=5)
    assert whole == {"w": (40, 40, 0), "dev": (0, 0, 10)}
    unpacked = tmp_path / "device" / "c64"
    assert shard_tool.unpack(tmp_path / "whole", unpacked) == 50
    original, back = open_lines(corpus, "train"), open_lines(unpacked, "train")
    assert sorted(back.texts) == sorted(original.texts) and back.height == 64
    for i in range(len(back)):
        j = original.texts.index(back.texts[i])
        assert back.image(i).shape == original.image(j).shape
        assert np.abs(back.image(i).astype(int) - original.image(j)).mean() < 4
    assert len(open_lines(unpacked, "dev")) == 10

    dev_bytes = sum(f.stat().st_size for f in (tmp_path / "whole" / "dev").glob("crops.bin"))
    part = shard_tool.pack(recipe, tmp_path / "part", mib=2 * dev_bytes / 2 ** 20)
    assert part["dev"] == (0, 0, 10) and 0 < part["w"][0] < 40
    with pytest.raises(SystemExit, match="too small"):
        shard_tool.pack(recipe, tmp_path / "tiny", mib=dev_bytes / 2 ** 21)
    with pytest.raises(SystemExit, match="holds a compiled corpus"):
        shard_tool.unpack(tmp_path / "whole", corpus)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_training_on_a_gpu_that_is_not_there_is_refused_clearly(tmp_path, capsys):
    assert rec.training_device("auto") == torch.device("cpu")
    parser = rec.configure_parser(argparse.ArgumentParser())
    assert rec.run(parser.parse_args(["--out", str(tmp_path / "run"), "--device", "cuda"])) == 2
    assert "torch sees no GPU" in capsys.readouterr().err
