"""Confidences that are probabilities: a word's is the probability that it is read exactly right (every
character, case and punctuation included), a line's the probability that the line is read without any error.

The recogniser's raw scores come from the CTC posteriors along the alignment of the decoded text
(``htr.recognition.decode``): a character's peak probability, a word's lowest character's, a line's mean. They
rank well but are not probabilities. A ``Calibration`` maps them with two small logistic models:

- a word: the logit of its raw score, and whether it is a known word (every run of two or more letters in
  it is in the language model's word lists, all its languages);
- a line: the sum of its words' log probabilities, the logit of its raw score, and the log of its number of
  words (a line of no words scores 0).

``fit`` fits them on lines the recogniser never trained on (``htr train calibrate``); they are kept in the
recogniser's weights file (key ``calibration``) and ``Recognizer`` applies them to every line it reads, so the
output formats, the view and ``--min-confidence`` all see probabilities. They are fitted with the default
decoding (beam search, language model); other decodings get the same mapping, less exactly calibrated.

Measured by ``reliability`` (``htr eval lines --calibration``): confidences in ten equal bins, each with its
count, mean confidence and share right (a predicted word is right when it is in a longest common subsequence
of the line's predicted and true words; a line when its text equals the truth, whitespace normalised); the
expected calibration error (ECE) is the bins' |mean confidence - share right|, weighted by their counts.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from htr.evaluate import normalize_text

BINS = 10
EPS = 1e-4  # raw scores are clipped to [EPS, 1 - EPS] before their logit
RUN = re.compile(r"[^\W\d_]{2,}")  # a run of two or more letters: what the word lists are asked about


def logit(p: float) -> float:
    p = min(max(float(p), EPS), 1 - EPS)
    return math.log(p / (1 - p))


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-min(max(z, -50.0), 50.0)))


def known(word: str, words: frozenset[str]) -> bool:
    """Whether every run of two or more letters of ``word`` is in ``words`` (lower case), and it has one."""
    runs = RUN.findall(word)
    return bool(runs) and all(r.lower() in words for r in runs)


def known_words(char_lm) -> frozenset[str]:
    """The word lists of every language of a ``CharLM``: what ``known`` asks."""
    return char_lm.words(tuple(char_lm.lexicons))


def word_features(raw: float, text: str, words: frozenset[str]) -> list[float]:
    return [logit(raw), float(known(text, words))]


def line_features(raw: float, word_probs: list[float]) -> list[float]:
    return [sum(math.log(max(p, EPS)) for p in word_probs), logit(raw), math.log(len(word_probs))]


def _linear(weights: list[float], x: list[float]) -> float:
    return sum(w * v for w, v in zip(weights, x)) + weights[-1]


@dataclass
class Calibration:
    """Logistic weights over ``word_features`` and ``line_features``, each followed by the intercept."""

    word: list[float]
    line: list[float]
    fitted_on: str = ""  # what it was fitted on, in words

    def word_probabilities(self, rec, words: frozenset[str]) -> list[float]:
        """The probability that each word of a ``LineRecognition`` is read right (from its raw scores)."""
        return [sigmoid(_linear(self.word, word_features(w.raw, w.text, words))) for w in rec.words]

    def line_probability(self, rec, word_probs: list[float]) -> float:
        return sigmoid(_linear(self.line, line_features(rec.raw, word_probs))) if word_probs else 0.0

    def apply(self, rec, words: frozenset[str]) -> None:
        """Set the confidences of a ``LineRecognition`` and its words (``raw`` keeps the scores)."""
        probs = self.word_probabilities(rec, words)
        for w, p in zip(rec.words, probs):
            w.confidence = p
        rec.confidence = self.line_probability(rec, probs)

    def to_dict(self) -> dict:
        return {"word": [float(x) for x in self.word], "line": [float(x) for x in self.line],
                "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        return cls(list(d["word"]), list(d["line"]), d.get("fitted_on", ""))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 30) -> list[float]:
    """Weights (then the intercept) of a logistic regression of ``y`` (0/1) on the rows of ``x``, by Newton's
    method with a small L2 penalty."""
    x = np.c_[np.asarray(x, float).reshape(len(y), -1), np.ones(len(y))]
    y = np.asarray(y, float)
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -50, 50)))
        gradient = x.T @ (p - y) + l2 * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w.tolist()


def word_hits(predicted: list[str], truth: list[str]) -> list[bool]:
    """Per predicted word, whether it is in a longest common subsequence with the true words."""
    n, m = len(predicted), len(truth)
    longest = np.zeros((n + 1, m + 1), int)  # of predicted[i:] and truth[j:]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            longest[i, j] = (longest[i + 1, j + 1] + 1 if predicted[i] == truth[j]
                             else max(longest[i + 1, j], longest[i, j + 1]))
    hits, i, j = [False] * n, 0, 0
    while i < n and j < m:
        if predicted[i] == truth[j]:
            hits[i], i, j = True, i + 1, j + 1
        elif longest[i + 1, j] >= longest[i, j + 1]:
            i += 1
        else:
            j += 1
    return hits


def outcomes(rec, truth: str) -> tuple[list[bool], bool]:
    """Whether each word of a ``LineRecognition`` is right, and whether the whole line is."""
    truth = normalize_text(truth)
    return word_hits([w.text for w in rec.words], truth.split()), normalize_text(rec.text) == truth


def fit(recs: list, truths: list[str], words: frozenset[str], fitted_on: str = "") -> Calibration:
    """A ``Calibration`` fitted on ``LineRecognition``s (their raw scores) of lines whose true text is
    ``truths``; ``words``: the word lists of ``known``."""
    hits = [outcomes(r, t) for r, t in zip(recs, truths)]
    x = [word_features(w.raw, w.text, words) for r in recs for w in r.words]
    word = fit_logistic(np.array(x), np.array([h for wh, _ in hits for h in wh]))
    calibration = Calibration(word, [0.0] * 4, fitted_on)
    read = [(r, calibration.word_probabilities(r, words), right) for r, (_, right) in zip(recs, hits)]
    x = [line_features(r.raw, probs) for r, probs, _ in read if probs]
    calibration.line = fit_logistic(np.array(x), np.array([right for _, probs, right in read if probs]))
    return calibration


# ------------------------------------------------------------------------------------------------ measuring

@dataclass
class Bin:
    low: float
    high: float
    count: int
    confidence: float  # mean confidence (nan when empty)
    right: float  # share right (nan when empty)


def reliability(confidences, rights, bins: int = BINS) -> list[Bin]:
    """``bins`` equal bins of [0, 1] (the last one closed): each one's count, mean confidence, share right."""
    c, y = np.asarray(confidences, float), np.asarray(rights, float)
    index = np.clip((c * bins).astype(int), 0, bins - 1)
    table = []
    for k in range(bins):
        inside = index == k
        n = int(inside.sum())
        table.append(Bin(k / bins, (k + 1) / bins, n, float(c[inside].mean()) if n else math.nan,
                         float(y[inside].mean()) if n else math.nan))
    return table


def confidence_tables(recs: list, truths: list[str], bins: int = BINS) -> dict[str, list[Bin]]:
    """Reliability tables of ``LineRecognition``s against their true texts: "words" and "lines" of their
    confidences, "raw words" and "raw lines" of their raw scores."""
    hits = [outcomes(r, t) for r, t in zip(recs, truths)]
    word_rights, line_rights = [h for wh, _ in hits for h in wh], [right for _, right in hits]
    return {"words": reliability([w.confidence for r in recs for w in r.words], word_rights, bins),
            "lines": reliability([r.confidence for r in recs], line_rights, bins),
            "raw words": reliability([w.raw for r in recs for w in r.words], word_rights, bins),
            "raw lines": reliability([r.raw for r in recs], line_rights, bins)}


def ece(table: list[Bin]) -> float:
    """Expected calibration error: the bins' |mean confidence - share right| weighted by their counts."""
    total = sum(b.count for b in table)
    return sum(b.count / total * abs(b.confidence - b.right) for b in table if b.count) if total else 0.0


def format_table(table: list[Bin], what: str) -> str:
    """A reliability table as text: a row per bin, then the ECE."""
    rows = [f"{what + ' confidence':<18} {'count':>7} {'mean':>6} {'right':>6}"]
    for b in table:
        figures = f"{b.confidence:6.3f} {b.right:6.3f}" if b.count else f"{'-':>6} {'-':>6}"
        rows.append(f"{f'{b.low:.1f}-{b.high:.1f}':<18} {b.count:>7} {figures}")
    rows.append(f"{'ECE':<18} {sum(b.count for b in table):>7} {ece(table):6.3f} {'':>6}")
    return "\n".join(rows)


def table_dict(table: list[Bin]) -> dict:
    """A reliability table for JSON reports."""
    def value(v: float):
        return None if math.isnan(v) else round(v, 4)

    return {"ece": round(ece(table), 4), "bins": [{"low": b.low, "high": b.high, "count": b.count,
                                                   "confidence": value(b.confidence), "right": value(b.right)}
                                                  for b in table]}


def diagram(panels: dict[str, dict[str, list[Bin]]], size: int = 360) -> np.ndarray:
    """A reliability diagram (BGR image): a square panel per title, share right against mean confidence per
    bin, a curve per label (the diagonal is perfect calibration), each label with its ECE."""
    import cv2

    colours = [(0, 0, 200), (0, 140, 0), (200, 90, 0), (150, 0, 150)]
    margin, font = 50, cv2.FONT_HERSHEY_SIMPLEX
    images = []
    for title, curves in panels.items():
        img = np.full((size + 2 * margin, size + 2 * margin, 3), 255, np.uint8)
        at = lambda x, y: (int(margin + x * size), int(margin + (1 - y) * size))  # noqa: E731
        cv2.rectangle(img, at(0, 0), at(1, 1), (160, 160, 160), 1)
        cv2.line(img, at(0, 0), at(1, 1), (190, 190, 190), 1, cv2.LINE_AA)
        for k in range(6):
            v = k / 5
            cv2.putText(img, f"{v:.1f}", (at(v, 0)[0] - 10, margin + size + 16), font, 0.4, (80, 80, 80), 1)
            cv2.putText(img, f"{v:.1f}", (margin - 28, at(0, v)[1] + 4), font, 0.4, (80, 80, 80), 1)
        cv2.putText(img, title, (margin, margin - 28), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, "mean confidence", (margin + size // 2 - 55, size + margin + 36), font, 0.4, 0)
        cv2.putText(img, "share right", (4, margin - 8), font, 0.4, 0)
        for i, (label, table) in enumerate(curves.items()):
            colour = colours[i % len(colours)]
            points = np.array([at(b.confidence, b.right) for b in table if b.count], np.int32)
            cv2.polylines(img, [points], False, colour, 2, cv2.LINE_AA)
            for p in points:
                cv2.circle(img, (int(p[0]), int(p[1])), 3, colour, -1, cv2.LINE_AA)
            cv2.putText(img, f"{label} (ECE {ece(table):.3f})", (margin + 8, margin + 18 + 18 * i), font,
                        0.45, colour, 1, cv2.LINE_AA)
        images.append(img)
    return np.concatenate(images, axis=1)
