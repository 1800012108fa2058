"""CTC decoding: greedy and prefix beam search, to text with confidences and per-character x-spans.

Input is one line's (T, C) log-probabilities (log-softmax of the model's logits, blank = 0). Frame t
covers crop columns [t * stride, (t + 1) * stride). A character's span is the frames the best path spends
on it, widened to the midpoints of the gaps to its neighbours within a word; a word's span runs from its
first character's start to its last character's end. Confidences: a character's is its peak probability,
a word's the lowest of its characters', a line's the mean of its characters' (the mean blank probability
for an empty line).
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from htr.recognition.codec import BLANK, Codec
from htr.recognition.lm import CharLM

DEFAULT_BEAM = 10  # beam width of the CLI and Reader (0 or 1: greedy)
DEFAULT_LANGS = ("en", "fr")  # word lists the beam search favours unless --lang says otherwise


@dataclass
class CharSpan:
    char: str
    x0: float  # crop pixels
    x1: float
    confidence: float


@dataclass
class WordSpan:
    text: str
    x0: float
    x1: float
    confidence: float


@dataclass
class LineRecognition:
    text: str
    confidence: float
    chars: list[CharSpan] = field(default_factory=list)
    words: list[WordSpan] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": round(self.confidence, 4),
                "words": [{"text": w.text, "x0": w.x0, "x1": w.x1, "confidence": round(w.confidence, 4)}
                          for w in self.words],
                "chars": [{"char": c.char, "x0": c.x0, "x1": c.x1, "confidence": round(c.confidence, 4)}
                          for c in self.chars]}


CACHE_LIMIT = 200_000  # language-model scores kept between lines (~50 MB at most)


WORD_ENDS = " ,.;:!?)]»\"-"  # characters that close a word the lexicon is asked about


@dataclass
class LanguageModel:
    """A character language model as the beam search uses it: ``score(prefix, label)`` is ``weight`` times
    the log probability of the label's character after the prefix's text, plus ``bonus`` per character.
    With ``words`` (lower-case), a word of two or more letters closed by the label (a space, punctuation) or
    by the end of the line (``final``) also scores ``known`` when it is in the list, ``unknown`` when not."""

    lm: CharLM
    codec: Codec
    weight: float = 0.5
    bonus: float = 1.0
    words: frozenset[str] = frozenset()
    known: float = 0.0
    unknown: float = 0.0

    def __post_init__(self):
        self._cache: dict[tuple[tuple[int, ...], int], float] = {}
        self._word_cache: dict[tuple[int, ...], float] = {}
        chars = [self.codec.char(i) for i in range(len(self.codec))]
        self._letters = frozenset(i for i, c in enumerate(chars) if c.isalpha())
        self._ends = frozenset(i for i, c in enumerate(chars) if c in WORD_ENDS) if self.words else frozenset()

    def score(self, prefix: tuple[int, ...], label: int) -> float:
        key = (prefix[max(0, len(prefix) - self.lm.order + 1):], label)  # the context the model looks at
        score = self._cache.get(key)
        if score is None:
            if len(self._cache) >= CACHE_LIMIT:  # bounded: a batch of thousands of pages keeps flat memory
                self._cache.clear()
            context = "".join(self.codec.char(i) for i in key[0])
            score = self._cache[key] = self.weight * self.lm.logprob(context, self.codec.char(label)) + self.bonus
        if label in self._ends:
            score += self.word_score(prefix)
        return score

    def final(self, prefix: tuple[int, ...]) -> float:
        """The score of the word a line ends on (added when the beam search picks its answer)."""
        return self.word_score(prefix) if self.words else 0.0

    def word_score(self, prefix: tuple[int, ...]) -> float:
        """``known`` or ``unknown`` for the run of letters the prefix ends with (0 for fewer than two)."""
        start = len(prefix)
        while start and prefix[start - 1] in self._letters:
            start -= 1
        if len(prefix) - start < 2:
            return 0.0
        word = prefix[start:]
        score = self._word_cache.get(word)
        if score is None:
            if len(self._word_cache) >= CACHE_LIMIT:
                self._word_cache.clear()
            text = "".join(self.codec.char(i) for i in word).lower()
            score = self._word_cache[word] = self.known if text in self.words else self.unknown
        return score


def _runs(path: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, first frame, last frame) of each non-blank run of a frame-label path."""
    runs, t, n = [], 0, len(path)
    while t < n:
        u = t
        while u + 1 < n and path[u + 1] == path[t]:
            u += 1
        if path[t] != BLANK:
            runs.append((int(path[t]), t, u))
        t = u + 1
    return runs


def _result(logprobs: np.ndarray, runs, codec: Codec, stride: int) -> LineRecognition:
    """A LineRecognition from label runs over the frames."""
    probs = np.exp(logprobs)
    width = logprobs.shape[0] * stride
    chars = []
    for i, (label, t0, t1) in enumerate(runs):
        x0, x1 = float(t0 * stride), float((t1 + 1) * stride)
        chars.append(CharSpan(codec.char(label), x0, x1, float(probs[t0:t1 + 1, label].max())))
    # Widen spans to the midpoints of the gaps between neighbouring characters of the same word.
    for a, b in zip(chars, chars[1:]):
        if a.char != " " and b.char != " ":
            mid = (a.x1 + b.x0) / 2
            a.x1, b.x0 = max(a.x1, mid), min(b.x0, mid)
    for c in chars:
        c.x0, c.x1 = max(0.0, c.x0), min(float(width), c.x1)
    words, current = [], []
    for c in chars + [CharSpan(" ", 0, 0, 1.0)]:
        if c.char == " ":
            if current:
                words.append(WordSpan("".join(x.char for x in current), current[0].x0, current[-1].x1,
                                      min(x.confidence for x in current)))
            current = []
        else:
            current.append(c)
    text = " ".join(w.text for w in words)  # spaces collapsed, ends stripped
    kept = [c for c in chars if c.char != " "] or chars
    conf = float(np.mean([c.confidence for c in kept])) if kept else float(probs[:, BLANK].mean()) if len(probs) else 0.0
    return LineRecognition(text, conf, chars, words)


def greedy_decode(logprobs: np.ndarray, codec: Codec, stride: int = 4) -> LineRecognition:
    """Best-path decoding: the most likely label per frame, repeats merged, blanks dropped."""
    logprobs = np.asarray(logprobs, np.float32)
    return _result(logprobs, _runs(logprobs.argmax(1)), codec, stride)


def _logsumexp(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) of two Python floats (math, not numpy: this runs millions of times a page)."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def prefix_beam_search(logprobs: np.ndarray, beam: int = 10, prune: float = 1e-2, lm: LanguageModel | None = None,
                       ) -> tuple[tuple[int, ...], float]:
    """The most likely label sequence summed over all its CTC paths (prefix beam search), and its log
    probability. Labels under ``prune`` probability at a frame are not extended there. With ``lm``, prefixes
    are ranked by their CTC log probability plus the language model's score of their text."""
    logprobs = np.asarray(logprobs, np.float64)
    extendable = logprobs >= math.log(prune)
    extendable[:, BLANK] = False
    used = np.flatnonzero(extendable.any(0))  # only labels extendable somewhere can end a prefix
    rows = logprobs[:, np.concatenate([[BLANK], used])].tolist()  # Python floats: scalar arithmetic is faster on them
    starts = [[(int(used[k]), k + 1) for k in np.flatnonzero(row)] for row in extendable[:, used]]  # (label, column)
    lse, neg = _logsumexp, -math.inf
    # prefix -> (log p ending in a blank, log p ending in its last label, its LM score, its last label's column)
    beams: dict[tuple[int, ...], tuple] = {(): (0.0, neg, 0.0, 0)}
    for lp, labels in zip(rows, starts):
        if not labels:  # nothing new can start here: every prefix stays, the set of beams is unchanged
            beams = {prefix: (lse(pb, pnb) + lp[0], pnb + lp[k] if prefix else neg, ls, k)
                     for prefix, (pb, pnb, ls, k) in beams.items()}
            continue
        nxt: dict[tuple[int, ...], list] = {}
        for prefix, (pb, pnb, ls, k) in beams.items():
            total = lse(pb, pnb)
            b, nb = total + lp[0], (pnb + lp[k] if prefix else neg)  # a blank; the last label repeated, merged
            old = nxt.get(prefix)
            nxt[prefix] = [b, nb, ls, k] if old is None else [lse(old[0], b), lse(old[1], nb), ls, k]
            last = prefix[-1] if prefix else -1
            for c, kc in labels:
                grown = prefix + (c,)
                p = (pb if c == last else total) + lp[kc]  # a repeat needs a blank in between
                old = nxt.get(grown)
                if old is None:
                    nxt[grown] = [neg, p, ls + lm.score(prefix, c) if lm is not None else 0.0, kc]
                else:
                    old[1] = lse(old[1], p)
        ranked = heapq.nlargest(beam, nxt.items(), key=lambda item: lse(item[1][0], item[1][1]) + item[1][2])
        beams = {prefix: tuple(v) for prefix, v in ranked}
    best, (pb, pnb, _, _) = max(beams.items(), key=lambda item: lse(item[1][0], item[1][1]) + item[1][2]
                                + (lm.final(item[0]) if lm is not None else 0.0))
    return best, lse(pb, pnb)


def align(logprobs: np.ndarray, labels) -> list[tuple[int, int, int]]:
    """Viterbi forced alignment: (label, first frame, last frame) of each label on the best CTC path that
    spells ``labels``; [] when the labels do not fit in the frames."""
    labels = list(labels)
    T = logprobs.shape[0]
    if not labels:
        return []
    ext = [BLANK]
    for c in labels:
        ext += [c, BLANK]
    S = len(ext)
    ext_arr = np.array(ext)
    skip = np.zeros(S, bool)  # may jump from s-2 to s: non-blank and different from the label two back
    skip[2:] = (ext_arr[2:] != BLANK) & (ext_arr[2:] != ext_arr[:-2])
    emit = np.asarray(logprobs, np.float64)[:, ext_arr]  # (T, S): each state's label's log probability per frame
    score = np.full(S, -np.inf)
    score[:2] = emit[0, :2]
    back = np.zeros((T, S), np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    one, two = np.full(S, -np.inf), np.full(S, -np.inf)  # the scores one and two states back (buffers)
    for t in range(1, T):
        one[1:] = score[:-1]
        two[2:] = score[:-2]
        two[~skip] = -np.inf
        from_one, best = one > score, np.maximum(score, one)
        from_two = two > best
        back[t] = from_one
        back[t][from_two] = 2
        score = np.maximum(best, two) + emit[t]
    s = S - 1 if S < 2 or score[S - 1] >= score[S - 2] else S - 2
    if not np.isfinite(score[s]):
        return []
    path = np.empty(T, np.int64)
    for t in range(T - 1, -1, -1):
        path[t] = s
        s -= int(back[t, s])
    runs = []
    for t in range(T):
        s = path[t]
        if s % 2 == 1:
            i = s // 2
            if runs and runs[-1][3] == i:
                runs[-1][2] = t
            else:
                runs.append([labels[i], t, t, i])
    return [(r[0], r[1], r[2]) for r in runs]


def beam_decode(logprobs: np.ndarray, codec: Codec, beam: int = 10, stride: int = 4,
                lm: LanguageModel | None = None) -> LineRecognition:
    """Prefix beam search for the text, then a forced alignment of it for spans and confidences."""
    logprobs = np.asarray(logprobs, np.float32)
    labels, _ = prefix_beam_search(logprobs, beam, lm=lm)
    return _result(logprobs, align(logprobs, labels), codec, stride)


def decode(logprobs: np.ndarray, codec: Codec, beam: int = 0, stride: int = 4,
           lm: LanguageModel | None = None) -> LineRecognition:
    """Greedy when ``beam`` < 2, else beam search of that width (with ``lm`` if given)."""
    if beam and beam > 1:
        return beam_decode(logprobs, codec, beam, stride, lm)
    return greedy_decode(logprobs, codec, stride)
