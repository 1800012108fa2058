"""Scoring recognised text and detected regions against ground truth.

Text: character and word error rates (CER, WER) and bag-of-words precision/recall, from the edit
distance of normalised strings. Regions: polygon IoU and one-to-one matching into TP/FP/FN counts.
Both score types add up (``sum(scores, TextScore())``), so totals over pages are micro-averages.

Empty cases: an error rate over an empty ground truth is 0.0 when the prediction is empty too, else 1.0.
Precision with nothing predicted is 1.0, recall with nothing to find is 1.0, and F1 follows as
2·TP / (2·TP + FP + FN), so it is 1.0 when both sides are empty and 0.0 when exactly one is.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, fields
from typing import Hashable, Sequence

import numpy as np
import shapely


def normalize_text(text: str, *, whitespace: bool = True, case: bool = False, punctuation: bool = False) -> str:
    """``text`` in Unicode NFC; ``whitespace`` collapses every run of whitespace (newlines included) to one
    space and strips the ends, ``case`` case-folds, ``punctuation`` drops Unicode punctuation (category P*)."""
    text = unicodedata.normalize("NFC", text)
    if case:
        text = unicodedata.normalize("NFC", text.casefold())
    if punctuation:
        text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    if whitespace:
        text = " ".join(text.split())
    return text


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of one item each) between two sequences:
    strings compare characters, lists of words compare words.

    Bit-parallel (Myers 1999, in Hyyrö's formulation for edit distance) on Python integers of any size:
    one pass over the longer sequence, with bit masks of the shorter one's positions per item.
    """
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    masks: dict[Hashable, int] = {}  # item -> bit i set where b[i] is that item
    for i, item in enumerate(b):
        masks[item] = masks.get(item, 0) | (1 << i)
    full = (1 << m) - 1
    top = 1 << (m - 1)
    pv, mv, score = full, 0, m  # vertical +1/-1 deltas of the current DP column, and its last cell
    for item in a:
        eq = masks.get(item, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = ((ph << 1) | 1) & full  # row 0 grows by one per item: a +1 horizontal delta enters
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
    return score


def _ratio(part: int, whole: int) -> float:
    """part / whole, with nothing to count (whole == 0) a perfect 1.0."""
    return part / whole if whole else 1.0


def _f1(tp: int, fp: int, fn: int) -> float:
    return _ratio(2 * tp, 2 * tp + fp + fn)


def _error_rate(errors: int, length: int) -> float:
    """errors / length; over an empty reference, 0.0 without errors and 1.0 with any."""
    if length:
        return errors / length
    return 1.0 if errors else 0.0


class _Counts:
    """Field-wise addition for the score dataclasses; ``sum()`` works without a start value."""

    def __add__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __radd__(self, other):
        if other == 0:
            return self
        return NotImplemented


@dataclass
class TextScore(_Counts):
    """Error and bag-of-words counts of one or more texts; ``chars`` and ``words`` are ground-truth lengths."""

    char_errors: int = 0
    chars: int = 0
    word_errors: int = 0
    words: int = 0
    bow_tp: int = 0
    bow_fp: int = 0
    bow_fn: int = 0

    @property
    def cer(self) -> float:
        """Character error rate: character edit distance / ground-truth characters (see module notes)."""
        return _error_rate(self.char_errors, self.chars)

    @property
    def wer(self) -> float:
        """Word error rate: word edit distance / ground-truth words (see module notes)."""
        return _error_rate(self.word_errors, self.words)

    @property
    def bow_precision(self) -> float:
        return _ratio(self.bow_tp, self.bow_tp + self.bow_fp)

    @property
    def bow_recall(self) -> float:
        return _ratio(self.bow_tp, self.bow_tp + self.bow_fn)

    @property
    def bow_f1(self) -> float:
        return _f1(self.bow_tp, self.bow_fp, self.bow_fn)


def score_text(pred: str, gt: str, *, case: bool = False, punctuation: bool = False) -> TextScore:
    """Counts for predicted text against ground truth, both normalised by ``normalize_text`` (whitespace
    always; ``case`` and ``punctuation`` ignore those differences). Words are the whitespace-separated
    tokens; the bag of words matches them as multisets, ignoring order."""
    pred = normalize_text(pred, case=case, punctuation=punctuation)
    gt = normalize_text(gt, case=case, punctuation=punctuation)
    pred_words, gt_words = pred.split(), gt.split()
    tp = sum((Counter(pred_words) & Counter(gt_words)).values())
    return TextScore(
        char_errors=edit_distance(pred, gt),
        chars=len(gt),
        word_errors=edit_distance(pred_words, gt_words),
        words=len(gt_words),
        bow_tp=tp,
        bow_fp=len(pred_words) - tp,
        bow_fn=len(gt_words) - tp,
    )


def cer(pred: str, gt: str, **opts) -> float:
    """Character error rate of ``pred`` against ``gt``; ``opts`` as for ``score_text``."""
    return score_text(pred, gt, **opts).cer


def wer(pred: str, gt: str, **opts) -> float:
    """Word error rate of ``pred`` against ``gt``; ``opts`` as for ``score_text``."""
    return score_text(pred, gt, **opts).wer


def _as_geometry(points) -> shapely.Geometry | None:
    """A valid polygonal shapely geometry of (K, 2) points, or None for a degenerate one.

    Self-intersecting outlines are repaired with ``make_valid``, keeping only the polygonal parts.
    """
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 3 or not np.isfinite(arr).all():
        return None
    geom = shapely.Polygon(arr)
    if not geom.is_valid:
        parts = shapely.get_parts(shapely.get_parts(shapely.make_valid(geom)))  # collections, then multi-parts
        polygons = [p for p in parts if p.geom_type == "Polygon" and p.area > 0]
        if not polygons:
            return None
        geom = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
    return geom if geom.area > 0 else None


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    inter = a.intersection(b).area
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (K, 2) polygons; 0.0 when either is degenerate (fewer than 3
    points or no area). Self-intersecting polygons are repaired first (``shapely.make_valid``)."""
    ga, gb = _as_geometry(a), _as_geometry(b)
    if ga is None or gb is None:
        return 0.0
    return _iou(ga, gb)


@dataclass
class DetectionScore(_Counts):
    """Matched (tp), unmatched predicted (fp) and unmatched ground-truth (fn) regions."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """tp / (tp + fp); 1.0 with no predictions."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """tp / (tp + fn); 1.0 with no ground truth."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2·tp / (2·tp + fp + fn); 1.0 when both sides are empty."""
        return _f1(self.tp, self.fp, self.fn)


def match_polygons(
    pred: list[np.ndarray], gt: list[np.ndarray], iou_threshold: float = 0.5
) -> tuple[DetectionScore, list[tuple[int, int, float]]]:
    """Match predicted to ground-truth polygons one to one and count the result.

    Candidate pairs overlap (found with an STRtree) with IoU >= ``iou_threshold`` and above 0; they are
    taken greedily by descending IoU, each polygon at most once. Degenerate polygons match nothing but
    still count (as FP or FN). Returns the score and the (pred_index, gt_index, iou) matches in
    ``pred_index`` order.
    """
    pred_geoms = [_as_geometry(p) for p in pred]
    gt_geoms = [_as_geometry(g) for g in gt]
    pred_ids = [i for i, g in enumerate(pred_geoms) if g is not None]
    gt_ids = [j for j, g in enumerate(gt_geoms) if g is not None]
    candidates: list[tuple[float, int, int]] = []
    if pred_ids and gt_ids:
        pred_valid = np.array([pred_geoms[i] for i in pred_ids], dtype=object)
        gt_valid = np.array([gt_geoms[j] for j in gt_ids], dtype=object)
        qi, tj = shapely.STRtree(gt_valid).query(pred_valid, predicate="intersects")
        a, b = pred_valid[qi], gt_valid[tj]
        inter = shapely.area(shapely.intersection(a, b))
        union = shapely.area(a) + shapely.area(b) - inter
        ious = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        keep = (ious > 0) & (ious >= iou_threshold)
        candidates = [
            (float(iou), pred_ids[q], gt_ids[t]) for iou, q, t in zip(ious[keep], qi[keep].tolist(), tj[keep].tolist())
        ]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_pred: set[int] = set()
    used_gt: set[int] = set()
    matches: list[tuple[int, int, float]] = []
    for iou, i, j in candidates:
        if i not in used_pred and j not in used_gt:
            used_pred.add(i)
            used_gt.add(j)
            matches.append((i, j, iou))
    matches.sort()
    tp = len(matches)
    return DetectionScore(tp=tp, fp=len(pred) - tp, fn=len(gt) - tp), matches
