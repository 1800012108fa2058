"""How far a page's reading order is from the ground truth's.

Each detected line is placed at the ground-truth line it overlaps most (at least half of the smaller of the
two areas), and along it by its x-centre (a line found in pieces); lines placed so are *matched*. Then:

* ``order``: the share of pairs of matched lines that the page reads in the ground truth's order (concordant
  pairs, as in Kendall's tau): 1.0 when the order is the same; swapping two lines of n loses 1 / C(n, 2) per
  pair they invert.
* ``moved``: the share of matched lines out of place: n minus the longest run of lines (not necessarily
  adjacent) that is in order, over n; the fewest lines one would move to fix the order.
* ``cer_lost``: the page CER of the text as read minus the CER of the same recognised lines put in the ground
  truth's order (a line matching none keeps its place after the line read before it).

Scores add up over pages (``sum(scores, OrderScore())``): pair and line counts, so totals are micro-averages.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
import shapely

from htr.document import Line
from htr.evaluate import _Counts, _as_geometry, _error_rate, _ratio, score_text

MIN_OVERLAP = 0.5  # of the smaller area, for a detected line to be placed on a ground-truth line


@dataclass
class OrderScore(_Counts):
    """Pair and line counts of one or more pages, and the character errors of their text as read and in the
    ground truth's order (``chars``: ground-truth length)."""

    pairs: int = 0
    concordant: int = 0
    lines: int = 0
    in_order: int = 0
    char_errors: int = 0
    gt_order_errors: int = 0
    chars: int = 0

    @property
    def order(self) -> float:
        """Share of matched line pairs in the ground truth's order (1.0 with no pair)."""
        return _ratio(self.concordant, self.pairs)

    @property
    def moved(self) -> float:
        """Share of matched lines out of place (0.0 with none)."""
        return 1.0 - _ratio(self.in_order, self.lines)

    @property
    def cer_lost(self) -> float:
        """Page CER as read minus page CER with the same lines in the ground truth's order."""
        return _error_rate(self.char_errors, self.chars) - _error_rate(self.gt_order_errors, self.chars)


def gt_places(pred: list[np.ndarray], gt: list[np.ndarray]) -> list[tuple[int, float] | None]:
    """Per predicted polygon, (index of the ground-truth polygon it overlaps most, its x-centre), or None when
    it overlaps none by MIN_OVERLAP of the smaller area."""
    pred_geoms, gt_geoms = [_as_geometry(p) for p in pred], [_as_geometry(g) for g in gt]
    valid = [j for j, g in enumerate(gt_geoms) if g is not None]
    tree = shapely.STRtree([gt_geoms[j] for j in valid]) if valid else None
    places: list[tuple[int, float] | None] = []
    for p, geom in zip(pred, pred_geoms):
        best, place = 0.0, None
        if geom is not None and tree is not None:
            for k in tree.query(geom, predicate="intersects"):
                g = gt_geoms[valid[k]]
                share = geom.intersection(g).area / min(geom.area, g.area)
                if share >= MIN_OVERLAP and share > best:
                    best, place = share, (valid[k], float(np.mean(np.asarray(p)[:, 0])))
        places.append(place)
    return places


def concordant_pairs(keys: list) -> tuple[int, int]:
    """(pairs, pairs in increasing order) of a sequence of distinct, comparable keys."""
    n = len(keys)
    good = sum(keys[i] < keys[j] for i in range(n) for j in range(i + 1, n))
    return n * (n - 1) // 2, good


def longest_increasing(keys: list) -> int:
    """Length of the longest strictly increasing subsequence of ``keys``."""
    tails: list = []
    for key in keys:
        k = bisect_left(tails, key)
        tails[k:k + 1] = [key]
    return len(tails)


def in_gt_order(lines: list[Line], places: list[tuple[int, float] | None]) -> list[Line]:
    """The lines in the ground truth's order; a line placed nowhere follows the line read before it."""
    keys, last = [], (-1, -np.inf)
    for k, place in enumerate(places):
        last = place or last
        keys.append((*last, place is None, k))
    return [lines[k] for k in sorted(range(len(lines)), key=lambda k: keys[k])]


def score_order(lines: list[Line], gt_lines: list[Line], case: bool = False,
                punctuation: bool = False) -> OrderScore:
    """The reading-order score of a page's ``lines`` (in the order read) against its ground-truth lines."""
    places = gt_places([ln.polygon for ln in lines], [ln.polygon for ln in gt_lines])
    keys = [p for p in places if p is not None]
    pairs, good = concordant_pairs(keys)
    gt_text = "\n".join(ln.text for ln in gt_lines)
    read = score_text("\n".join(ln.text for ln in lines), gt_text, case=case, punctuation=punctuation)
    fixed = score_text("\n".join(ln.text for ln in in_gt_order(lines, places)), gt_text, case=case,
                       punctuation=punctuation)
    return OrderScore(pairs=pairs, concordant=good, lines=len(keys), in_order=longest_increasing(keys),
                      char_errors=read.char_errors, gt_order_errors=fixed.char_errors, chars=read.chars)
