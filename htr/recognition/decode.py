"""CTC decoding: greedy and prefix beam search, to text with confidences and per-character x-spans.

Input is one line's (T, C) log-probabilities (log-softmax of the model's logits, blank = 0). Frame t
covers crop columns [t * stride, (t + 1) * stride). A character's span is the frames the best path spends
on it, widened to the midpoints of the gaps to its neighbours within a word; a word's span runs from its
first character's start to its last character's end. Confidences: a character's is its peak probability,
a word's the lowest of its characters', a line's the mean of its characters' (the mean blank probability
for an empty line).
"""
from __future__ import annotations

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
    extendable = logprobs >= np.log(prune)
    extendable[:, BLANK] = False
    rows = logprobs.tolist()  # Python floats: scalar arithmetic on them is several times faster than numpy's
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}  # prefix -> (log p blank-ending, non-blank)
    lm_scores: dict[tuple[int, ...], float] = {(): 0.0}

    def lm_score(prefix: tuple[int, ...]) -> float:
        score = lm_scores.get(prefix)
        if score is None:
            score = lm_scores[prefix] = lm_score(prefix[:-1]) + lm.score(prefix[:-1], prefix[-1])
        return score

    def rank(item) -> float:
        ctc = _logsumexp(*item[1])
        return ctc + lm_score(item[0]) if lm is not None else ctc
    for t, lp in enumerate(rows):
        candidates = np.flatnonzero(extendable[t]).tolist()
        if not candidates:  # nothing new can start here: every prefix stays, the set of beams is unchanged
            beams = {prefix: (_logsumexp(pb, pnb) + lp[BLANK], pnb + lp[prefix[-1]] if prefix else -math.inf)
                     for prefix, (pb, pnb) in beams.items()}
            continue
        nxt: dict[tuple[int, ...], list[float]] = {}

        def add(prefix, pb, pnb):
            old = nxt.get(prefix)
            if old is None:
                nxt[prefix] = [pb, pnb]
            else:
                old[0], old[1] = _logsumexp(old[0], pb), _logsumexp(old[1], pnb)

        for prefix, (pb, pnb) in beams.items():
            total = _logsumexp(pb, pnb)
            add(prefix, total + lp[BLANK], -math.inf)  # blank: the prefix stays
            if prefix:
                add(prefix, -math.inf, pnb + lp[prefix[-1]])  # the last label repeated, merged
            for c in candidates:
                if prefix and c == prefix[-1]:
                    add(prefix + (c,), -math.inf, pb + lp[c])  # a repeat needs a blank in between
                else:
                    add(prefix + (c,), -math.inf, total + lp[c])
        ranked = sorted(nxt.items(), key=rank, reverse=True)[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    best, (pb, pnb) = max(beams.items(), key=lambda item: rank(item) + (lm.final(item[0]) if lm else 0.0))
    return best, _logsumexp(pb, pnb)


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
    score = np.full(S, -np.inf)
    score[0] = logprobs[0, ext[0]]
    if S > 1:
        score[1] = logprobs[0, ext[1]]
    back = np.zeros((T, S), np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, T):
        stay = score
        one = np.concatenate([[-np.inf], score[:-1]])
        two = np.where(skip, np.concatenate([[-np.inf, -np.inf], score[:-2]]), -np.inf)
        choice = np.argmax(np.stack([stay, one, two]), 0)
        score = np.choose(choice, [stay, one, two]) + logprobs[t, ext_arr]
        back[t] = choice
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
