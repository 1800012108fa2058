"""Model shapes, loss masks, weights round trip, the Detector and the commands (tiny inputs, CPU)."""
import json

import numpy as np
import pytest
import torch

from htr.detection.detector import Detector, load_weights, prepare, save_weights
from htr.detection.model import DetConfig, build_model
from htr.document import Line, Page, Word, box_polygon
from htr.errors import HTRError
from htr.paths import default_weights
from htr.train.det_data import AugmentConfig, make_sample
from htr.train.det_loss import balanced_bce, db_loss

TINY = DetConfig(widths=(8, 16, 16, 32), blocks=(1, 1, 1, 1), stem=8, fpn=16, head=8)


@pytest.mark.parametrize("h,w", [(64, 64), (97, 61), (33, 130)])
def test_output_shapes_for_odd_sizes(h, w):
    model = build_model(TINY).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, h, w))
    assert set(out) == {"prob"}
    assert out["prob"].shape == (1, 2, -(-h // 4) * 2, -(-w // 4) * 2)
    model.train()
    out = model(torch.randn(2, 3, h, w))
    assert {k: v.shape[1] for k, v in out.items()} == {"prob": 2, "logits": 2, "thresh": 2, "binary": 2}
    assert out["thresh"].min() >= 0 and out["thresh"].max() <= 1


def fake_batch(shape=(2, 2, 16, 16), has=((1, 0), (1, 0))):
    gt = torch.zeros(shape)
    gt[:, :, 4:8, 2:14] = 1
    return {"gt": gt, "mask": torch.ones(shape), "thresh": torch.full(shape, 0.3),
            "thresh_mask": torch.ones(shape), "has": torch.tensor(has, dtype=torch.float32)}


def test_loss_finite_and_masked_channel_gets_no_gradient():
    model = build_model(TINY).train()
    out = model(torch.randn(2, 3, 32, 32))
    batch = fake_batch()
    loss, parts = db_loss(out, batch)
    assert torch.isfinite(loss) and loss.item() > 0
    assert set(parts) == {"bce0", "dice0", "l1_0"}  # no page has words: the word channel is left out
    grads = {}
    for name in ("logits", "thresh"):
        out[name].retain_grad()
    loss.backward()
    for name in ("logits", "thresh"):
        g = out[name].grad
        assert g[:, 1].abs().sum() == 0 and g[:, 0].abs().sum() > 0
    # one page with words: only that page's word channel receives gradient
    out = model(torch.randn(2, 3, 32, 32))
    out["logits"].retain_grad()
    loss, parts = db_loss(out, fake_batch(has=((1, 1), (1, 0))))
    loss.backward()
    g = out["logits"].grad
    assert "bce1" in parts and g[0, 1].abs().sum() > 0 and g[1, 1].abs().sum() == 0


def test_balanced_bce_ohem_and_empty():
    logits = torch.full((1, 1, 8, 8), -3.0)
    gt = torch.zeros_like(logits)
    gt[..., 0, 0] = 1
    mask = torch.ones_like(logits)
    hard = logits.clone()
    hard[..., 7, 7] = 5.0  # one confident false positive dominates the 3 mined negatives
    assert balanced_bce(hard, gt, mask) > balanced_bce(logits, gt, mask) * 2
    assert torch.isfinite(balanced_bce(logits, torch.zeros_like(gt), mask))  # no text at all
    assert balanced_bce(logits, gt, torch.zeros_like(mask)).item() == 0.0


def test_weights_round_trip_and_detector(tmp_path):
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    path = tmp_path / "det.pt"
    save_weights(path, model, {"long_side": 96}, meta={"note": "test"})
    loaded, pre, post, meta = load_weights(path)
    assert pre["long_side"] == 96 and meta == {"note": "test"} and set(post) == {"line", "word"}
    assert loaded.cfg == TINY
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(model(x)["prob"], loaded(x)["prob"])
    image = np.full((150, 200, 3), 255, np.uint8)
    detector = Detector(path)
    prob, scale = detector.maps(image)
    assert prob.shape == (2, 48, 48) and np.allclose(scale, (200 / 96 * 2, 150 / 72 * 2))
    assert all(d.kind in ("line", "word") for d in detector.detect(image))


def test_missing_or_bad_weights(tmp_path):
    with pytest.raises(HTRError, match="not found"):
        Detector(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(HTRError, match="not a readable"):
        load_weights(tmp_path / "bad.pt")


def test_prepare_pads_to_multiple():
    x, s = prepare(np.zeros((1000, 700, 3), np.uint8), 256)
    assert x.shape == (1, 3, 256, 192) and s == (179 / 700, 0.256)


def test_sample_targets_and_word_mask():
    rng = np.random.default_rng(0)
    image = np.full((400, 300, 3), 240, np.uint8)
    line = Line(box_polygon(40, 100, 260, 130), "a b", words=[Word(box_polygon(40, 100, 120, 130), "a"),
                                                                Word(box_polygon(150, 100, 260, 130), "b")])
    page = Page(300, 400, [])
    from htr.document import Block
    page.blocks = [Block(box_polygon(40, 100, 260, 130), [line])]
    aug = AugmentConfig(crop=128, long_side=160, colour=False)
    s = make_sample(rng, image, page, aug, {"line": 0.6, "word": 0.4})
    assert s["image"].shape == (3, 128, 128) and s["gt"].shape == (2, 64, 64)
    assert s["has"].tolist() == [1.0, 1.0] and s["gt"][0].sum() > 0 and s["gt"][1].sum() > 0
    line.words = []
    s = make_sample(rng, image, page, aug, {"line": 0.6, "word": 0.4})
    assert s["has"].tolist() == [1.0, 0.0] and s["gt"][1].sum() == 0


@pytest.mark.skipif(not default_weights("det").exists(), reason="htr/weights/det.pt is needed")
def test_detect_and_eval_detect_find_the_lines_of_the_example_letter(tmp_path, capsys):
    import shutil

    from htr.cli import main
    from htr.evaluate import match_polygons
    from htr.formats import read_document
    from htr.paths import REPO

    letter = REPO / "examples" / "letter.jpg"
    gt = read_document(REPO / "examples" / "letter.gt.xml")
    assert main(["detect", str(letter), "--overlay", str(tmp_path / "o.png"), "-o", str(tmp_path / "o.json")]) == 0
    found = read_document(tmp_path / "o.json")
    assert (tmp_path / "o.png").exists() and found.width == gt.width
    score, _ = match_polygons([ln.polygon for ln in found.lines], [ln.polygon for ln in gt.lines], 0.5)
    assert score.f1 >= 0.95, score  # all 11 lines (htr/weights/MODEL_CARD.md)
    shutil.copy(letter, tmp_path / "letter.jpg")
    shutil.copy(REPO / "examples" / "letter.gt.xml", tmp_path / "letter.xml")
    capsys.readouterr()
    assert main(["eval", "detect", str(tmp_path), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["total"]
    assert total["pages"] == 1 and total["tp"] == score.tp and total["f1"] == pytest.approx(score.f1, abs=1e-3)
    assert total["empty_pages"] == 0
    # a compiled corpus is scored a row per source (its dev split)
    assert main(["data", "compile", f"letters={tmp_path}:dev", "-o", str(tmp_path / "corpus"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", "detect", str(tmp_path / "corpus"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["folders"]
    assert row["folder"].endswith(":letters") and row["pages"] == 1 and row["tp"] == score.tp
    # a page with ground truth and no line found (white paper under the letter's ground truth) is counted
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "white.jpg"), np.full((800, 600, 3), 255, np.uint8))
    gt_xml = (REPO / "examples" / "letter.gt.xml").read_text(encoding="utf-8")
    (tmp_path / "white.xml").write_text(gt_xml.replace('imageFilename="letter.jpg"', 'imageFilename="white.jpg"'),
                                        encoding="utf-8")
    assert main(["eval", "detect", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"]["pages"] == 2 and report["total"]["empty_pages"] == 1
    assert report["folders"][0]["empty"][0].endswith("white.jpg")
    assert main(["detect", str(letter), "--weights", str(tmp_path / "none.pt")]) == 1
    assert "none.pt" in capsys.readouterr().err
