"""Training data for the recogniser: cached real line crops, synthetic lines, and the curriculum mixing them.

Real lines: every transcribed line of ``$HTR_SHARED/data/{hooker,testaments}/train`` cropped once at model
height into a pickle under the cache folder (dev lines likewise, for evaluation only). Synthetic lines come
from ``htr.synth.lines.render_line`` in the DataLoader worker. Batch ``k`` is drawn from an RNG seeded by
(seed, k), so a resumed run continues exactly where it stopped, and the mix is a pure function of the step
(``Mix``): change it, or switch synthesis on, and a resumed run follows the new plan from its step on.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from htr.paths import shared_dir
from htr.recognition.codec import Codec
from htr.recognition.lines import folder_lines
from htr.recognition.recognizer import fit_height, make_batch, normalize
from htr.train.augment import augment, paper_of

TRAIN_SETS = ("hooker", "testaments")  # kraken_sample and names are not for training
MAX_WIDTH = 1200  # crop pixels at model height; wider lines are squeezed to this
FORM_FIELD_SHARE = 0.1  # of synthetic lines: names in capitals
MAX_PX_PER_CHAR = 35  # real crops wider than this per character come from polygons that are thin strips


@dataclass
class LineSet:
    images: list = field(default_factory=list)  # (H, W) uint8 grey crops
    texts: list = field(default_factory=list)
    names: list = field(default_factory=list)  # "<set>/<doc>:<line>"

    def __len__(self) -> int:
        return len(self.texts)


def load_lines(split: str, cache_dir: Path, height: int, sets=TRAIN_SETS) -> LineSet:
    """The cached crops of ``split`` ("train" or "dev") of ``sets``, built on first use."""
    cache = Path(cache_dir) / f"{split}_h{height}.pkl"
    if cache.exists():
        with open(cache, "rb") as f:
            return pickle.load(f)
    out = LineSet()
    for name in sets:
        folder = shared_dir() / "data" / name / split
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} not found (set HTR_SHARED to the folder holding data/)")
        for xml, lines in folder_lines(folder, height):
            for line in lines:
                out.images.append(line.image)
                out.texts.append(line.text)
                out.names.append(f"{name}/{line.name}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.with_suffix(".part"), "wb") as f:
        pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
    cache.with_suffix(".part").replace(cache)
    return out


def ctc_fits(labels: list[int], width: int, stride: int = 4) -> bool:
    """Whether a label sequence fits the frames of a crop (one frame per label plus one per repeat)."""
    repeats = sum(a == b for a, b in zip(labels, labels[1:]))
    return 0 < len(labels) + repeats <= width // stride


@dataclass
class Mix:
    """The curriculum: synthetic only and short at first, then real lines (shortest first) at a rising ratio."""

    synth_steps: int = 1500  # synthetic lines only until this step
    ramp_steps: int = 8000  # by this step: real lines of every length, synth at synth_final
    synth_final: float = 0.3  # share of synthetic lines after the ramp
    short_chars: int = 16  # longest synthetic text at step 0 (grows to 70 by synth_steps)
    real_start: float = 0.3  # share of real lines (shortest first) eligible when they come in

    def progress(self, step: int, start: int) -> float:
        return float(np.clip((step - start) / max(1, self.ramp_steps - start), 0.0, 1.0))

    def synth_ratio(self, step: int, synth: bool) -> float:
        if not synth:
            return 0.0
        if step < self.synth_steps:
            return 1.0
        return 1.0 - (1.0 - self.synth_final) * min(1.0, 0.25 + 0.75 * self.progress(step, self.synth_steps))

    def real_quantile(self, step: int, synth: bool) -> float:
        start = self.synth_steps if synth else 0
        return self.real_start + (1.0 - self.real_start) * self.progress(step, start)

    def synth_chars(self, step: int) -> int:
        f = min(1.0, step / max(1, self.synth_steps))
        return int(self.short_chars + (70 - self.short_chars) * f)


def synth_available() -> str | None:
    """None when htr.synth can render lines here, else the reason it cannot."""
    try:
        from htr.synth.lines import render_line
        render_line(0)
    except Exception as err:  # missing module, fonts not fetched, ...
        return f"{type(err).__name__}: {err}"
    return None


def synth_text(rng: np.random.Generator, max_chars: int, real: bool = True) -> tuple[str, float | None]:
    """The text of a synthetic line and its letter spacing (None: the font's own): mostly running text of
    at most ``max_chars`` characters (``real``: some of it real transcribed lines), else a name in capitals,
    often letter-spaced as in form fields."""
    from htr.synth import text as corpus

    if rng.random() < FORM_FIELD_SHARE:
        text = corpus.name(rng, corpus.pick_lang(rng)).upper()
        spaced = rng.random() < 0.5  # one word then: wide letter spacing would hide the word spaces
        text = text.split()[-1] if spaced or rng.random() < 0.4 else text
        return text, (rng.uniform(0.1, 0.9) if spaced else None)
    n = int(rng.integers(max(3, max_chars // 3), max_chars + 1))
    return corpus.line_text(rng, n, real=real), None


def synth_line(rng: np.random.Generator, max_chars: int, height: int) -> tuple[np.ndarray, str]:
    """A synthetic line (grey crop at ``height``, text) of at most ``max_chars`` characters, with random
    paper above and below like a real line polygon leaves."""
    from htr.synth.lines import render_line

    text, tracking = synth_text(rng, max_chars)
    sample = render_line(rng, text=text, tracking=tracking)
    grey = cv2.cvtColor(sample.image, cv2.COLOR_RGB2GRAY)
    h = grey.shape[0]
    top, bottom = (int(rng.uniform(0, 0.45) * h) for _ in range(2))
    grey = cv2.copyMakeBorder(grey, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=paper_of(grey))
    return fit_height(grey, height), sample.text


class BatchData(torch.utils.data.Dataset):
    """Item ``k`` is training batch ``k``: a dict of x (B, 1, H, W), widths, targets, target_lengths."""

    def __init__(self, real: LineSet, codec: Codec, batch_size: int, mix: Mix, seed: int, height: int,
                 synth: bool, augment_strength: float = 1.0):
        self.codec, self.batch_size, self.mix, self.seed = codec, batch_size, mix, seed
        self.height, self.synth, self.strength = height, synth, augment_strength
        self.images, self.labels = [], []
        for img, text in zip(real.images, real.texts):
            labels = codec.encode(text)
            if img.shape[1] > MAX_PX_PER_CHAR * max(1, len(labels)):
                continue
            if img.shape[1] > MAX_WIDTH:
                img = cv2.resize(img, (MAX_WIDTH, height), interpolation=cv2.INTER_AREA)
            if ctc_fits(labels, int(img.shape[1] * 0.8)):
                self.images.append(img)
                self.labels.append(labels)
        self.by_width = np.argsort([im.shape[1] for im in self.images], kind="stable")

    def __len__(self) -> int:
        return 10 ** 9

    def _real(self, rng, step: int, n: int) -> list[int]:
        """n real lines of similar width among the shortest eligible ones."""
        eligible = max(n, int(len(self.by_width) * self.mix.real_quantile(step, self.synth)))
        window = min(eligible, 4 * self.batch_size)
        start = int(rng.integers(0, eligible - window + 1))
        return [int(self.by_width[i]) for i in rng.choice(np.arange(start, start + window), n, replace=False)]

    def __getitem__(self, k: int) -> dict:
        rng = np.random.default_rng([self.seed, int(k)])
        n_synth = int(rng.binomial(self.batch_size, self.mix.synth_ratio(k, self.synth)))
        items = []
        real = self._real(rng, k, self.batch_size - n_synth) if n_synth < self.batch_size else []
        for i in real:
            items.append((self.images[i], self.labels[i]))
        chars = self.mix.synth_chars(k)
        if real and n_synth:  # match the real lines' lengths to keep padding small
            chars = int(np.clip(np.mean([len(self.labels[i]) for i in real]) * 1.2, 6, 80))
        while len(items) < self.batch_size:
            img, text = synth_line(rng, chars, self.height)
            labels = self.codec.encode(text)
            if img.shape[1] > MAX_WIDTH:
                img = cv2.resize(img, (MAX_WIDTH, self.height), interpolation=cv2.INTER_AREA)
            if ctc_fits(labels, int(img.shape[1] * 0.8)):
                items.append((img, labels))
        images, targets = [], []
        augmented = [augment(rng, img, self.strength) for img, _ in items]
        limit = int(1.5 * np.median([im.shape[1] for im in augmented])) + 16  # keep the padding small
        for img, (_, labels) in zip(augmented, items):
            need = 4 * (len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))) + 8
            if img.shape[1] > limit:
                img = cv2.resize(img, (max(limit, need), self.height), interpolation=cv2.INTER_AREA)
            elif img.shape[1] < need:
                img = cv2.resize(img, (need, self.height), interpolation=cv2.INTER_LINEAR)
            images.append(normalize(img))
            targets.append(torch.tensor(labels, dtype=torch.long))
        x, widths = make_batch(images)
        return {"x": x, "widths": widths, "targets": torch.cat(targets),
                "target_lengths": torch.tensor([len(t) for t in targets], dtype=torch.long), "n_synth": n_synth}


def worker_init(_):
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
