"""Training data for the recogniser: compiled corpora of real line crops, synthetic lines, and the curriculum.

Real lines come from corpora compiled by ``htr data compile`` (``--data``; ground-truth folders are compiled on the
fly into the run folder), memory-mapped and mixed by weight: each ``--data`` entry is drawn in proportion to its
train lines times its weight. Synthetic lines come from ``htr.synth.lines.render_line`` in the DataLoader worker.
Batch ``k`` is drawn from an RNG seeded by (seed, k), so a resumed run continues exactly where it stopped, and the
mix is a pure function of the step (``Mix``): change it, or switch synthesis on, and a resumed run follows the new
plan from its step on.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from htr.data.corpus import CorpusLines, is_corpus, open_lines
from htr.paths import shared_dir
from htr.recognition.codec import Codec
from htr.recognition.recognizer import WIDTH_MULTIPLE, fit_height, make_batch, normalize
from htr.train.augment import augment, paper_of

TRAIN_SETS = ("hooker", "testaments")  # the default data: ../shared/data's train and dev splits of these
MAX_WIDTH = 1200  # crop pixels at model height; wider lines are squeezed to this
FORM_FIELD_SHARE = 0.1  # of synthetic lines: names in capitals
MAX_PX_PER_CHAR = 35 / 40  # of the crop height: real crops wider than this per character come from polygons that
# are thin strips (35 px at 40 px)


def default_data() -> list[str]:
    """The ground truth trained on when no --data is given: the train and dev folders of TRAIN_SETS."""
    folders = [shared_dir() / "data" / name / split for name in TRAIN_SETS for split in ("train", "dev")]
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} not found (give --data, or set HTR_SHARED to the folder holding data/)")
    return [str(f) for f in folders]


def parse_data(spec: str) -> tuple[str, float]:
    """``PATH[:WEIGHT]`` -> (PATH, WEIGHT); the weight multiplies the entry's natural share (its line count)."""
    head, _, tail = spec.rpartition(":")
    try:
        return (head, float(tail)) if head else (spec, 1.0)
    except ValueError:
        return spec, 1.0


def resolve_data(specs: list[str], run_dir: Path, height: int, dev_share: float = 0.1,
                 workers: int = 1) -> list[tuple[Path, list[str] | None, float]]:
    """(corpus folder, its sources to use or None for all, weight) per --data entry: a compiled corpus, one
    source of it (CORPUS/SOURCE), or a ground-truth folder (``[NAME=]GT[:train|:dev]``, as ``htr data compile`` takes it) compiled into RUN/corpus."""
    from htr.data.sources import gt_sources, parse_gt
    from htr.data.compile import compile_corpus

    entries = [parse_data(s) for s in specs]
    gt_specs = [path for path, _ in entries if not is_corpus(path) and not is_corpus_source(path)]
    if gt_specs:
        compile_corpus(gt_sources(gt_specs), run_dir / "corpus", height, dev_share, workers)
    out = []
    for path, weight in entries:
        if is_corpus(path):
            out.append((Path(path), None, weight))
        elif is_corpus_source(path):
            out.append((Path(path).parent, [Path(path).name], weight))
        else:
            out.append((run_dir / "corpus", [parse_gt(path)[0]], weight))
    return out


def is_corpus_source(path: str | Path) -> bool:
    """Whether ``path`` is CORPUS/SOURCE: one source of a compiled corpus."""
    path = Path(path)
    return is_corpus(path.parent) and (path / "lines.jsonl").is_file()


def training_lines(specs: list[str], run_dir: Path, height: int, dev_share: float = 0.1,
                   workers: int = 1) -> tuple[CorpusLines, CorpusLines, dict[int, float]]:
    """(train lines, dev lines, weight per group) of the --data entries (see ``resolve_data``)."""
    train, dev, weights = CorpusLines(height), CorpusLines(height), {}
    for group, (corpus, only, weight) in enumerate(resolve_data(specs, run_dir, height, dev_share, workers)):
        train.extend(open_lines(corpus, "train", only), group)
        dev.extend(open_lines(corpus, "dev", only), group)
        weights[group] = weight
    if train.height != height:  # a corpus compiled at another height: crops resized as they are read
        print(f"note: the corpus crops are {train.height} px high and the model reads {height} px: resized on "
              "reading", flush=True)
        train, dev = train.at_height(height), dev.at_height(height)
    return train, dev, weights


def new_characters(texts: list[str], codec: Codec, min_count: int = 3) -> str:
    """Characters of ``texts`` the codec lacks (after its stand-ins), seen at least ``min_count`` times, by count
    (then code point)."""
    counts = Counter(c for text in texts for c in codec.normalize(text) if codec.unknown_chars(c))
    return "".join(c for c, n in sorted(counts.items(), key=lambda cn: (-cn[1], cn[0]))
                   if n >= min_count and not c.isspace())


def ctc_fits(labels: list[int], width: int, stride: int = 4) -> bool:
    """Whether a label sequence fits the frames of a crop (one frame per label plus one per repeat)."""
    repeats = sum(a == b for a, b in zip(labels, labels[1:]))
    return 0 < len(labels) + repeats <= width // stride


@dataclass
class Mix:
    """The curriculum: synthetic only and short at first, then real lines (shortest first) at a rising ratio."""

    synth_steps: int = 1000  # synthetic lines only until this step
    ramp_steps: int = 6000  # by this step: real lines of every length, synth at synth_final
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


FIELD_LABELS = ("Name:", "Surname", "First names:", "Date:", "Date of birth", "Born", "Address:", "Occupation:",
                "Signature", "Nom :", "Prénoms", "Né le", "Adresse :", "Profession", "Date :", "Name, Vorname:",
                "Geburtsdatum", "Wohnort:", "Beruf", "No.", "Ref.", "Amount £", "Total")
FIELD_SHARE = 0.05  # of synthetic lines: a printed form label with a handwritten entry beside it


def _padded(rng, grey: np.ndarray) -> np.ndarray:
    """Random paper above and below, as a real line polygon leaves."""
    h = grey.shape[0]
    top, bottom = (int(rng.uniform(0, 0.45) * h) for _ in range(2))
    return cv2.copyMakeBorder(grey, top, bottom, 0, 0, cv2.BORDER_CONSTANT, value=paper_of(grey))


def form_field_line(rng: np.random.Generator, height: int) -> tuple[np.ndarray, str]:
    """A printed label and, beside it, a handwritten entry (a name in capitals, a date, a place)."""
    from htr.synth import text as corpus
    from htr.synth.lines import render_line

    lang = corpus.pick_lang(rng)
    label = FIELD_LABELS[int(rng.integers(len(FIELD_LABELS)))]
    entry = [corpus.name(rng, lang).upper(), corpus.date(rng, lang), corpus.address(rng, lang).split(",")[0]][
        int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
    printed = render_line(rng, text=label, kind="print")
    written = render_line(rng, text=entry, kind="handwriting")
    value = fit_height(_padded(rng, cv2.cvtColor(written.image, cv2.COLOR_RGB2GRAY)), height)
    small = int(height * rng.uniform(0.55, 0.85))
    label_img = fit_height(cv2.cvtColor(printed.image, cv2.COLOR_RGB2GRAY), small)
    paper = paper_of(value)
    label_img = np.clip(label_img.astype(np.float32) * (paper / max(1, paper_of(label_img))), 0, 255).astype(np.uint8)
    top = int(rng.integers(0, height - small + 1))
    label_img = cv2.copyMakeBorder(label_img, top, height - small - top, 0, int(rng.uniform(0.2, 1.5) * height),
                                   cv2.BORDER_CONSTANT, value=paper)
    return np.hstack([label_img, value]), f"{printed.text} {written.text}"


def synth_line(rng: np.random.Generator, max_chars: int, height: int) -> tuple[np.ndarray, str]:
    """A synthetic line (grey crop at ``height``, text) of at most ``max_chars`` characters, with random
    paper above and below like a real line polygon leaves; FIELD_SHARE of them form fields."""
    from htr.synth.lines import render_line

    if max_chars >= 20 and rng.random() < FIELD_SHARE:
        return form_field_line(rng, height)
    for attempt in range(10):
        text, tracking = synth_text(rng, max_chars)
        try:
            sample = render_line(rng, text=text, tracking=tracking)
        except ValueError:  # nothing of the text drawable in the font drawn (e.g. 'no 122'): another line
            if attempt == 9:
                raise
            continue
        return fit_height(_padded(rng, cv2.cvtColor(sample.image, cv2.COLOR_RGB2GRAY)), height), sample.text


class BatchData(torch.utils.data.Dataset):
    """Item ``k`` is training batch ``k``: a dict of x (B, 1, H, W), widths, targets, target_lengths.

    A batch's real lines come from one group (a --data entry), drawn with probability proportional to its
    eligible lines times its weight, and are of similar widths."""

    def __init__(self, real: CorpusLines, codec: Codec, batch_size: int, mix: Mix, seed: int, height: int,
                 synth: bool, augment_strength: float = 1.0, weights: dict[int, float] | None = None,
                 stride: int = 4):
        self.real, self.codec, self.batch_size, self.mix, self.seed = real, codec, batch_size, mix, seed
        self.stride = stride
        self.height, self.synth, self.strength = height, synth, augment_strength
        self.index, self.labels, widths, groups = [], [], [], []
        for i, (text, width) in enumerate(zip(real.texts, real.widths)):
            labels = codec.encode(text)
            if width > MAX_PX_PER_CHAR * height * max(1, len(labels)):
                continue
            if ctc_fits(labels, int(min(width, MAX_WIDTH) * 0.8), stride):
                self.index.append(i)
                self.labels.append(labels)
                widths.append(width)
                groups.append(real.group[i])
        widths, groups = np.array(widths), np.array(groups)
        self.groups = sorted(set(groups.tolist()))
        self.by_width = [np.flatnonzero(groups == g)[np.argsort(widths[groups == g], kind="stable")]
                         for g in self.groups]
        share = np.array([(weights or {}).get(g, 1.0) * len(b) for g, b in zip(self.groups, self.by_width)], float)
        self.group_p = share / share.sum() if share.sum() > 0 else share

    def __len__(self) -> int:
        return 10 ** 9

    def _real(self, rng, step: int, n: int) -> list[int]:
        """n real lines of similar width among the shortest eligible ones of one group."""
        g = int(rng.choice(len(self.groups), p=self.group_p)) if len(self.groups) > 1 else 0
        by_width = self.by_width[g]
        eligible = min(len(by_width), max(n, int(len(by_width) * self.mix.real_quantile(step, self.synth))))
        window = min(eligible, 4 * self.batch_size)
        start = int(rng.integers(0, eligible - window + 1))
        return [int(by_width[i]) for i in rng.choice(np.arange(start, start + window), n, replace=window < n)]

    def _image(self, k: int) -> np.ndarray:
        img = self.real.image(self.index[k])
        if img.shape[1] > MAX_WIDTH:
            img = cv2.resize(img, (MAX_WIDTH, self.height), interpolation=cv2.INTER_AREA)
        return img

    def __getitem__(self, k: int) -> dict:
        rng = np.random.default_rng([self.seed, int(k)])
        n_synth = int(rng.binomial(self.batch_size, self.mix.synth_ratio(k, self.synth)))
        items = []
        real = self._real(rng, k, self.batch_size - n_synth) if n_synth < self.batch_size and self.index else []
        for i in real:
            items.append((self._image(i), self.labels[i]))
        chars = self.mix.synth_chars(k)
        if real and n_synth:  # match the real lines' lengths to keep padding small
            chars = int(np.clip(np.mean([len(self.labels[i]) for i in real]) * 1.2, 6, 80))
        while len(items) < self.batch_size:
            img, text = synth_line(rng, chars, self.height)
            labels = self.codec.encode(text)
            if img.shape[1] > MAX_WIDTH:
                img = cv2.resize(img, (MAX_WIDTH, self.height), interpolation=cv2.INTER_AREA)
            if ctc_fits(labels, int(img.shape[1] * 0.8), self.stride):
                items.append((img, labels))
        images, targets = [], []
        augmented = [augment(rng, img, self.strength) for img, _ in items]
        limit = int(1.5 * np.median([im.shape[1] for im in augmented])) + 16  # keep the padding small
        for img, (_, labels) in zip(augmented, items):
            need = self.stride * (len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))) + 8
            if img.shape[1] > limit:
                img = cv2.resize(img, (max(limit, need), self.height), interpolation=cv2.INTER_AREA)
            elif img.shape[1] < need:
                img = cv2.resize(img, (need, self.height), interpolation=cv2.INTER_LINEAR)
            images.append(normalize(img))
            targets.append(torch.tensor(labels, dtype=torch.long))
        x, widths = make_batch(images, multiple=WIDTH_MULTIPLE)
        return {"x": x, "widths": widths, "targets": torch.cat(targets),
                "target_lengths": torch.tensor([len(t) for t in targets], dtype=torch.long), "n_synth": n_synth}


def worker_init(_):
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
