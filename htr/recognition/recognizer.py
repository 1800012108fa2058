"""Recognising line crops with shipped weights: preprocessing, batching by width, the weights file.

A weights file (``htr.modelfile``) is a dict: ``format`` ("htr-rec/1"; absent in files written before it),
``state_dict`` (fp16 tensors), ``config`` (RecConfig as a plain dict), ``charset`` (str; labels 0 and 1 are
blank and unknown), ``preprocess`` ({"height", "normalize", "stride"}), free-form ``meta`` (training
step, dev CER...) and, once ``htr train calibrate`` has fitted it, ``calibration`` (``htr.calibration``: what
turns the raw confidences into probabilities; a file without it gives the raw scores).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from htr.calibration import Calibration, known_words
from htr.modelfile import load_model_file, save_model_file
from htr.recognition.codec import Codec
from htr.recognition.decode import (DEFAULT_BEAM, DEFAULT_LANGS, LanguageModel, LineRecognition, decode,
                                    greedy_decode)
from htr.recognition.lm import AUTO, CharLM, choose_language, word_ranks
from htr.paths import DEFAULT_LM, default_weights, weights_path
from htr.recognition.model import CRNN, RecConfig, build_model
from htr.runtime import DEFAULT_PRECISION, DEFAULT_RUNTIME, runtime_model, use_bf16

DEFAULT_WEIGHTS = default_weights("rec")
NORMALIZE = "invert-stretch"  # ink -> 1, paper -> 0, stretched between the line's 2nd and 98th percentile


WIDTH_MULTIPLE = 32  # batches are padded to a multiple of this many pixels: oneDNN keeps compiled kernels per input
# shape, and line batches of endless widths once grew a page-reading process by ~40 MB every 10 pages


def normalize(grey: np.ndarray) -> np.ndarray:
    """A grey uint8 crop as float32 with paper ~0 and ink ~1 (per-line contrast stretch)."""
    g = grey.astype(np.float32)
    lo, hi = np.percentile(g, (2, 98)) if g.size else (0.0, 255.0)
    span = max(hi - lo, 32.0)
    return np.clip((np.float32(hi) - g) / np.float32(span), 0.0, 1.0).astype(np.float32)


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """A crop as (height, W) grey uint8: RGB to grey, resized to ``height`` keeping the aspect ratio."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(image[:, :, :3], cv2.COLOR_RGB2GRAY)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    h, w = image.shape
    if h != height:
        width = max(1, int(round(w * height / h)))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_LINEAR)
    return image


def make_batch(images: list[np.ndarray], min_width: int = 16, multiple: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised (H, W_i) float crops padded with paper (0) on the right into (B, 1, H, W) and widths (B,)."""
    widths = [max(im.shape[1], min_width) for im in images]
    w = -(-max(widths) // multiple) * multiple
    batch = np.zeros((len(images), 1, images[0].shape[0], w), np.float32)
    for i, im in enumerate(images):
        batch[i, 0, :, :im.shape[1]] = im
    return torch.from_numpy(batch), torch.tensor(widths, dtype=torch.long)


def save_weights(path, model: CRNN, codec: Codec, meta: dict | None = None, half: bool = True) -> None:
    """Write a self-describing weights file (fp16 state dict unless ``half`` is False)."""
    state = {k: (v.half() if half and v.is_floating_point() else v).clone().contiguous()
             for k, v in model.state_dict().items()}
    save_model_file(path, "rec", {
        "state_dict": state, "config": model.cfg.to_dict(), "charset": codec.charset,
        "preprocess": {"height": model.cfg.height, "normalize": NORMALIZE, "stride": model.cfg.stride},
        "meta": dict(meta or {})})


def save_calibration(weights, out, calibration: Calibration) -> None:
    """Write the weights file ``weights`` (None: the shipped one) to ``out`` with ``calibration`` in it."""
    blob = {k: v for k, v in load_model_file(weights, "rec").items() if k != "format"}
    save_model_file(out, "rec", {**blob, "calibration": calibration.to_dict()})


def load_weights(path=None) -> tuple[CRNN, Codec, dict]:
    """(model in eval mode, fp32; codec; the file's dict without the state dict); None: the shipped weights."""
    blob = load_model_file(path, "rec")
    cfg = RecConfig.from_dict(blob["config"])
    model = build_model(cfg)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    model.eval()
    info = {k: v for k, v in blob.items() if k != "state_dict"}
    return model, Codec(blob["charset"]), info


class Recognizer:
    """Loads a weights file once; ``recognize`` reads a list of line crops in batches sorted by width."""

    def __init__(self, weights=None, *, beam: int = DEFAULT_BEAM, lm: str | Path | None = DEFAULT_LM,
                 batch_size: int = 16, max_pixels: int = 400_000, lang: tuple[str, ...] | str | None = None,
                 precision: str = DEFAULT_PRECISION, runtime: str = DEFAULT_RUNTIME):
        """``weights``: a weights file (None: the shipped one). ``beam`` < 2: greedy decoding; else beam search, with the language model ``lm`` (a file from
        ``htr train lm``; the default is used when present, None for none) and the word lists of ``lang``
        (language codes, a tuple or comma-separated; () for none; None or "auto": each page's own, chosen by
        ``recognize_page``). ``precision``: "fp32", "bf16" or "auto" (bf16 where the CPU computes it natively),
        for the torch runtime. ``runtime``: "torch" or "onnx" (ONNX Runtime, fp32, the export cached per weights
        file: htr.runtime)."""
        self.model, self.codec, self.info = load_weights(weights)
        self.net = runtime_model(self.model, "rec", runtime, weights_path(weights, "rec"))  # runs the model
        self.height = self.model.cfg.height
        self.stride = self.model.cfg.stride
        self.beam, self.batch_size, self.max_pixels = beam, batch_size, max_pixels
        self.bf16 = use_bf16(precision, runtime)
        self.lm = self.language = self.ranks = None  # ranks: the word lists' for choose_language (--lang auto)
        self.models: dict[tuple[str, ...], LanguageModel] = {}  # per set of word lists, made on first use
        if isinstance(lang, str):
            lang = tuple(x.strip() for x in lang.split(",") if x.strip())
        if beam > 1 and lm is not None and (Path(lm).is_file() or Path(lm) != DEFAULT_LM):
            self.char_lm = CharLM.load(lm)
            auto = lang is None or tuple(lang) == (AUTO,)
            langs = tuple(x for x in DEFAULT_LANGS if x in self.char_lm.lexicons) if auto else tuple(lang)
            self.lm = self.language_model(langs)  # --lang's, or with auto those of a page of no clear language
            self.language = langs[0] if len(langs) == 1 and not auto else None
            if auto and self.char_lm.lexicons:
                self.ranks = word_ranks(self.char_lm.lexicons)
        # Confidences as probabilities (htr.calibration), when the weights file holds a calibration; its known
        # words are the language model's word lists, every language (none without a language model).
        calibration = self.info.get("calibration")
        self.calibration = Calibration.from_dict(calibration) if calibration else None
        self.known_words = frozenset()
        if self.calibration is not None and self.lm is not None:
            self.known_words = known_words(self.char_lm)

    def language_model(self, langs: tuple[str, ...]) -> LanguageModel:
        """The beam search's language model with the word lists of ``langs``."""
        if langs not in self.models:
            meta = self.char_lm.meta
            self.models[langs] = LanguageModel(
                self.char_lm, self.codec, meta.get("weight", 0.5), meta.get("bonus", 1.0), self.char_lm.words(langs),
                meta.get("known", 0.0), meta.get("unknown", 0.0))
        return self.models[langs]

    @torch.inference_mode()
    def logprobs(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Per-crop (T_i, classes) log-probabilities, in input order."""
        images = [normalize(fit_height(c, self.height)) for c in crops]
        order = sorted(range(len(images)), key=lambda i: images[i].shape[1])
        out: list[np.ndarray | None] = [None] * len(images)
        start = 0
        while start < len(order):
            end = start + 1  # grow the batch while it stays under batch_size and max_pixels
            while (end < len(order) and end - start < self.batch_size
                   and (end - start + 1) * images[order[end]].shape[1] * self.height <= self.max_pixels):
                end += 1
            idx = order[start:end]
            x, widths = make_batch([images[i] for i in idx], multiple=WIDTH_MULTIPLE)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                logits = self.net(x, widths)
            lp = logits.float().log_softmax(-1).numpy()
            for k, i in enumerate(idx):
                out[i] = lp[k, : int(self.model.frames(widths[k]))]
            start = end
        return out

    def recognize(self, crops: list[np.ndarray]) -> list[LineRecognition]:
        """Text, confidences and char/word x-spans (in each crop's own pixels) for grey or RGB crops."""
        return self.recognize_page(crops)[0]

    def recognize_page(self, crops: list[np.ndarray], sample: int | None = None,
                       ) -> tuple[list[LineRecognition], str | None]:
        """``recognize`` for the lines of a page, and the language whose word list decoded them (None: none, or
        several). With --lang auto, the language is chosen by ``choose_language`` from a greedy decoding of the
        first ``sample`` crops (None: all), the beam search then uses its word list; DEFAULT_LANGS' when none is
        clear."""
        logprobs = self.logprobs(crops)
        lm, language = self.lm, self.language
        if self.ranks is not None:
            first = [greedy_decode(lp, self.codec, self.stride).text for lp in logprobs[:sample]]
            language = choose_language(first, self.ranks)
            lm = self.language_model((language,)) if language else lm
        results = []
        for crop, lp in zip(crops, logprobs):
            rec = decode(lp, self.codec, self.beam, self.stride, lm)
            factor = crop.shape[0] / self.height  # spans back to the caller's crop pixels
            if factor != 1:
                for s in [*rec.chars, *rec.words]:
                    s.x0, s.x1 = s.x0 * factor, s.x1 * factor
            if self.calibration is not None:
                self.calibration.apply(rec, self.known_words)
            results.append(rec)
        return results, language

    def recognize_line(self, crop: np.ndarray) -> LineRecognition:
        return self.recognize([crop])[0]
