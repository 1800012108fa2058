"""Page in, detections out: the weights file, preprocessing and the `Detector` that ties model and
post-processing together.

A weights file (``htr.modelfile``) is a dict: {'format': 'htr-det/1', 'model': state dict, 'config': DetConfig as a dict, 'preprocessing': {...},
'postprocessing': {kind: PostConfig as a dict}, 'meta': {...}}.
"""
from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import torch

from htr.detection.model import MEAN, STD, DBNet, DetConfig, build_model, normalize
from htr.detection.postprocess import Detection, PostConfig, drop_solid, maps_to_detections
from htr.imageio import ImageSource, load_image
from htr.modelfile import FORMATS, load_model_file, save_model_file
from htr.paths import default_weights, weights_path
from htr.runtime import DEFAULT_PRECISION, DEFAULT_RUNTIME, runtime_model, use_bf16

FORMAT = FORMATS["det"]
DEFAULT_WEIGHTS = default_weights("det")
DEFAULT_PREPROCESSING = {"long_side": 1024, "multiple": 32, "mean": MEAN, "std": STD}
DEFAULT_POST = {"line": PostConfig(shrink_ratio=0.6, seed_thresh=None), "word": PostConfig(shrink_ratio=0.6)}
# A page whose line map holds text-like evidence (this share of its pixels above TEXT_LIKE probability) but
# no line is detected again with its long side at these multiples of the usual one: writing much larger or
# smaller than the training pages' comes out at a size the model knows (measured, MODEL_CARD.md: 20 blank
# synthetic pages 0-0.5% evidence, 8 dev pages 11-25%, a letter enlarged 4x, missed at 1024 px, 8%).
TEXT_LIKE, TEXT_EVIDENCE = 0.1, 0.01
RETRY_SCALES = (0.5, 1.5)
LOW_THRESHOLDS = {"bin_thresh": 0.15, "box_thresh": 0.25, "seed_thresh": None}  # the last retry's


def save_weights(path: str | Path, model: DBNet, preprocessing: dict | None = None,
                 post: dict[str, PostConfig] | None = None, meta: dict | None = None) -> None:
    post = post or DEFAULT_POST
    save_model_file(path, "det", {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "config": model.cfg.to_dict(),
        "preprocessing": dict(preprocessing or DEFAULT_PREPROCESSING),
        "postprocessing": {k: asdict(v) for k, v in post.items()}, "meta": meta or {}})


def load_weights(path: str | Path | None = None) -> tuple[DBNet, dict, dict[str, PostConfig], dict]:
    """(model in eval mode, preprocessing, post-processing per kind, meta) from a weights file (None: the
    shipped one)."""
    blob = load_model_file(path, "det")
    model = build_model(DetConfig.from_dict(blob["config"]))
    model.load_state_dict(blob["model"])
    model.eval()
    post = {k: PostConfig(**v) for k, v in blob.get("postprocessing", {}).items()} or dict(DEFAULT_POST)
    return model, {**DEFAULT_PREPROCESSING, **blob.get("preprocessing", {})}, post, blob.get("meta", {})


def prepare(image: np.ndarray, long_side: int, multiple: int = 32, mean: float = MEAN,
            std: float = STD) -> tuple[torch.Tensor, tuple[float, float]]:
    """(1, 3, H, W) input with the page's long side at ``long_side`` (padded right and bottom to a multiple
    of ``multiple``), and the resize factors (sx, sy): input pixels per original pixel."""
    h, w = image.shape[:2]
    s = long_side / max(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, (nw, nh), interpolation=interp)
    ph, pw = math.ceil(nh / multiple) * multiple, math.ceil(nw / multiple) * multiple
    x = np.full((ph, pw, 3), 255, np.uint8)  # pad with white paper
    x[:nh, :nw] = small
    return torch.from_numpy(normalize(x, mean, std))[None], (nw / w, nh / h)


class Detector:
    """Loads weights once; ``detect(image)`` gives line and word polygons in original pixels."""

    def __init__(self, weights: str | Path | None = None, threads: int | None = None,
                 runtime: str = DEFAULT_RUNTIME, precision: str = DEFAULT_PRECISION):
        """``runtime``: "torch" or "onnx" (ONNX Runtime, the export cached per weights file: htr.runtime).
        ``precision``: "fp32", "bf16" or "auto" (bf16 where the CPU computes it natively), for torch."""
        self.model, self.pre, self.post, self.meta = load_weights(weights)
        self.bf16 = use_bf16(precision, runtime)
        if threads:
            torch.set_num_threads(threads)
        self.net = runtime_model(self.model, "det", runtime, weights_path(weights, "det"))  # runs the model

    @classmethod
    def from_model(cls, model: DBNet, preprocessing: dict | None = None,
                   post: dict[str, PostConfig] | None = None) -> "Detector":
        self = cls.__new__(cls)
        self.model, self.net, self.meta, self.bf16 = model, model, {}, False
        self.pre = {**DEFAULT_PREPROCESSING, **(preprocessing or {})}
        self.post = post or dict(DEFAULT_POST)
        return self

    def maps(self, image: np.ndarray, long_side: int | None = None) -> tuple[np.ndarray, tuple[float, float]]:
        """Probability maps (kinds, h, w) of an RGB page and original pixels per map pixel (x, y); the page's
        long side resized to ``long_side`` (default: the weights' preprocessing)."""
        x, s = prepare(image, long_side or self.pre["long_side"], self.pre["multiple"], self.pre["mean"],
                       self.pre["std"])
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            prob = self.net(x)["prob"][0].float().numpy()
        self.model.train(was_training)
        stride = x.shape[-1] / prob.shape[-1]
        return prob, (stride / s[0], stride / s[1])

    def detect(self, image: ImageSource, kinds: tuple[str, ...] | None = None) -> list[Detection]:
        """Detections of a page (a path, bytes, array or PIL image), lines first, then words."""
        return self.detect_checked(image, kinds)[0]

    def detect_checked(self, image: ImageSource, kinds: tuple[str, ...] | None = None, retry: bool = True,
                       ) -> tuple[list[Detection], str | None]:
        """``detect``, and a warning when the page came out without a line though its map held text-like
        evidence (after the retries at RETRY_SCALES, unless ``retry`` is False); None otherwise (a blank page
        has no warning)."""
        rgb = load_image(image)
        long_side = self.pre["long_side"]
        traced = None if kinds is None else tuple({"line", *kinds})  # lines decide the retries

        def wanted(found: list[Detection]) -> list[Detection]:
            return [d for d in found if kinds is None or d.kind in kinds]

        found, evidence = self._detect_at(rgb, long_side, traced)
        if evidence < TEXT_EVIDENCE or any(d.kind == "line" for d in found):
            return wanted(found), None
        sides = [round(long_side * factor / 32) * 32 for factor in RETRY_SCALES] if retry else []
        for side in sides:
            retried, _ = self._detect_at(rgb, side, traced)
            if any(d.kind == "line" for d in retried):
                return wanted(retried), None
        if retry:  # faint or unusual writing: the usual size with the thresholds lowered
            retried, _ = self._detect_at(rgb, long_side, traced, LOW_THRESHOLDS)
            if any(d.kind == "line" for d in retried):
                return wanted(retried), None
        tried = ", ".join(str(side) for side in [long_side, *sides])
        return wanted(found), (
            f"no text line found, though {evidence:.0%} of the page looks like writing to the detector (page "
            f"resized to {tried} px on its long side, thresholds lowered too): check it")

    def _detect_at(self, rgb: np.ndarray, long_side: int, kinds: tuple[str, ...] | None = None,
                   lowered: dict | None = None) -> tuple[list[Detection], float]:
        """Detections of ``kinds`` (None: all) with the page's long side at ``long_side`` (lines of solid ink
        dropped: filing holes, blots), and the share of text-like line-map pixels. ``lowered``: thresholds
        that replace those of the file's post-processing."""
        prob, scale = self.maps(rgb, long_side)
        post = self.post if lowered is None else {k: replace(cfg, **lowered) for k, cfg in self.post.items()}
        found = maps_to_detections(prob, scale, (rgb.shape[1], rgb.shape[0]), self.model.cfg.kinds, post, kinds)
        found = drop_solid(found, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        line_map = prob[self.model.cfg.kinds.index("line")] if "line" in self.model.cfg.kinds else prob[0]
        return found, float((line_map > TEXT_LIKE).mean())
