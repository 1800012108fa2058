"""CTC decoding: greedy and prefix beam search, to text with confidences and per-character x-spans.

Input is one line's (T, C) log-probabilities (log-softmax of the model's logits, blank = 0). Frame t
covers crop columns [t * stride, (t + 1) * stride). A character's span is the frames the best path spends
on it, widened to the midpoints of the gaps to its neighbours within a word; a word's span runs from its
first character's start to its last character's end. Raw confidences: a character's is its peak probability,
a word's the lowest of its characters', a line's the mean of its characters' (the mean blank probability
for an empty line). ``Recognizer`` turns a word's and a line's into probabilities (``htr.calibration``) when
its weights file holds a calibration; ``raw`` keeps the score above.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from htr.recognition.codec import BLANK, Codec
from htr.recognition import fastdecode
from htr.recognition.lm import WORD_ENDS, CharLM

# beam width of the CLI and Reader (0 or 1: greedy); 40: on the language model's tuning lines CER 0.1137 at 10,
# 0.1120 at 20, 0.1112 at 40, 0.1107 at 80, for ~2 ms a line more than 10 (MODEL_CARD.md, "Beam width and the
# language model's order")
DEFAULT_BEAM = 40
DEFAULT_LANGS = ("en", "fr")  # word lists for a page whose language --lang auto (the default) finds unclear


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
    confidence: float  # the probability that the word is read right, where the weights are calibrated
    raw: float | None = None  # the uncalibrated score (None: the confidence)

    def __post_init__(self):
        self.raw = self.confidence if self.raw is None else self.raw


@dataclass
class LineRecognition:
    text: str
    confidence: float  # the probability that the line has no error, where the weights are calibrated
    chars: list[CharSpan] = field(default_factory=list)
    words: list[WordSpan] = field(default_factory=list)
    raw: float | None = None  # the uncalibrated score (None: the confidence)

    def __post_init__(self):
        self.raw = self.confidence if self.raw is None else self.raw

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": round(self.confidence, 4),
                "words": [{"text": w.text, "x0": w.x0, "x1": w.x1, "confidence": round(w.confidence, 4)}
                          for w in self.words],
                "chars": [{"char": c.char, "x0": c.x0, "x1": c.x1, "confidence": round(c.confidence, 4)}
                          for c in self.chars]}


CACHE_LIMIT = 200_000  # language-model scores kept between lines (~50 MB at most)


@dataclass
class LanguageModel:
    """A character language model as the beam search uses it. A prefix's state (a number) stands for the labels
    the model looks at (its last ``order - 1``) and the run of letters it ends with; ``step(state, label)``
    gives the state after the label and its score: ``weight`` times the log probability of the label's
    character after the context, plus ``bonus``. With ``words`` (lower-case), a word of two or more letters
    closed by the label (a space, punctuation) or by the end of the line (``final``) also scores ``known`` when
    it is in the list, ``unknown`` when not."""

    lm: CharLM
    codec: Codec
    weight: float = 0.5
    bonus: float = 1.0
    words: frozenset[str] = frozenset()
    known: float = 0.0
    unknown: float = 0.0

    def __post_init__(self):
        self._chars = [self.codec.char(i) for i in range(len(self.codec))]
        self._letters = frozenset(i for i, c in enumerate(self._chars) if c.isalpha())
        self._ends = frozenset(i for i, c in enumerate(self._chars) if c in WORD_ENDS) if self.words else frozenset()
        self._keep = max(0, self.lm.order - 1)
        self.begin()

    def compiled(self) -> "fastdecode.CompiledLM":
        """The model as arrays for the compiled beam search (made on the first call)."""
        if getattr(self, "_compiled", None) is None:
            self._compiled = fastdecode.compile_lm(self)
        return self._compiled

    def begin(self) -> int:
        """The state before a line's first label. The steps and states met so far are kept for the next lines,
        and dropped here once there are CACHE_LIMIT of them (a batch of thousands of pages keeps flat memory)."""
        if not hasattr(self, "steps") or len(self.steps) >= CACHE_LIMIT:
            self.steps: dict[tuple[int, int], tuple[int, float]] = {}  # (state, label) -> (next state, score)
            self._states: list[tuple[str, str]] = [("", "")]  # state -> (context, word)
            self._numbers = {("", ""): 0}
        return 0

    def step(self, state: int, label: int) -> tuple[int, float]:
        """The state after ``label`` and the label's score."""
        hit = self.steps.get((state, label))
        if hit is not None:
            return hit
        context, word = self._states[state]
        char = self._chars[label]
        score = self.weight * math.log(self.lm.prob(context, char)) + self.bonus
        if label in self._ends:
            score += self.word_score(word)
        after = ((context + char)[-self._keep:] if self._keep else "", word + char if label in self._letters else "")
        number = self._numbers.get(after)
        if number is None:
            number = self._numbers[after] = len(self._states)
            self._states.append(after)
        self.steps[(state, label)] = number, score
        return number, score

    def final(self, state: int) -> float:
        """The score of the word a line ends on (added when the beam search picks its answer)."""
        return self.word_score(self._states[state][1]) if self.words else 0.0

    def word_score(self, word: str) -> float:
        """``known`` or ``unknown`` for a run of letters (0 for fewer than two)."""
        if len(word) < 2:
            return 0.0
        return self.known if word.lower() in self.words else self.unknown


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


def prefix_beam_search(logprobs: np.ndarray, beam: int = 10, prune: float = 1e-2, lm: LanguageModel | None = None,
                       ) -> tuple[tuple[int, ...], float]:
    """The most likely label sequence summed over all its CTC paths (prefix beam search), and its log
    probability. This is the reference in Python; ``beam_decode`` runs the same search compiled
    (``fastdecode.prefix_beam_search``), with the same results. Labels under ``prune`` probability at a frame are not extended there. With ``lm``, prefixes
    are ranked by their CTC log probability plus the language model's score of their text.

    Prefixes are nodes of a tree (a parent and a last label each), so that the beams are dicts keyed by small
    integers; their probabilities are plain floats (not logs), divided by the best one's whenever that falls
    under 1e-100, the divisors' logs summed in ``scale``."""
    logprobs = np.asarray(logprobs, np.float64)
    extendable = logprobs >= math.log(prune)
    extendable[:, BLANK] = False
    used = np.flatnonzero(extendable.any(0))  # only labels extendable somewhere can end a prefix
    rows = np.exp(logprobs[:, np.concatenate([[BLANK], used])]).tolist()  # Python floats: faster scalar arithmetic
    starts = [[(int(used[k]), k + 1) for k in np.flatnonzero(row)] for row in extendable[:, used]]  # (label, column)
    log, neg = math.log, -math.inf
    # node -> its parent, its last label, that label's column in rows, its LM score and LM state
    parent, last, column, lm_score, lm_state = [-1], [-1], [0], [0.0], [lm.begin() if lm is not None else 0]
    children: dict[tuple[int, int], int] = {}
    beams: dict[int, tuple[float, float]] = {0: (1.0, 0.0)}  # node -> (p ending in a blank, p ending in its label)
    scale = 0.0
    steps = lm.steps if lm is not None else {}

    def rank(item):
        total = item[1][0] + item[1][1]
        return (log(total) if total > 0.0 else neg) + lm_score[item[0]]

    for p, labels in zip(rows, starts):
        blank = p[0]
        if not labels:  # nothing new can start here: every prefix stays, the set of beams is unchanged
            beams = {n: ((pb + pnb) * blank, pnb * p[column[n]]) for n, (pb, pnb) in beams.items()}
        else:
            nxt: dict[int, list[float]] = {}
            for n, (pb, pnb) in beams.items():
                total = pb + pnb
                b, nb = total * blank, pnb * p[column[n]]  # a blank; the last label repeated, merged
                old = nxt.get(n)
                if old is None:
                    nxt[n] = [b, nb]
                else:
                    old[0] += b
                    old[1] += nb
                for c, kc in labels:
                    g = children.get((n, c))
                    if g is None:
                        g = children[(n, c)] = len(parent)
                        parent.append(n), last.append(c), column.append(kc)
                        if lm is None:
                            lm_score.append(0.0), lm_state.append(None)
                        else:
                            state, score = steps.get((lm_state[n], c)) or lm.step(lm_state[n], c)
                            lm_score.append(lm_score[n] + score), lm_state.append(state)
                    q = (pb if c == last[n] else total) * p[kc]  # a repeat needs a blank in between
                    old = nxt.get(g)
                    if old is None:
                        nxt[g] = [0.0, q]
                    else:
                        old[1] += q
            beams = dict(sorted(nxt.items(), key=rank, reverse=True)[:beam] if len(nxt) > beam else nxt.items())
        best = max(pb + pnb for pb, pnb in beams.values())
        if 0.0 < best < 1e-100:
            beams = {n: (pb / best, pnb / best) for n, (pb, pnb) in beams.items()}
            scale += log(best)
    final = (lambda n: lm.final(lm_state[n])) if lm is not None else (lambda n: 0.0)
    node, (pb, pnb) = max(beams.items(), key=lambda item: rank(item) + final(item[0]))
    labels = []
    while node > 0:
        labels.append(last[node])
        node = parent[node]
    return tuple(reversed(labels)), (log(pb + pnb) if pb + pnb > 0.0 else neg) + scale


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
    emit = np.ascontiguousarray(np.asarray(logprobs, np.float64)[:, ext_arr])  # (T, S): each state's label per frame
    path = fastdecode.viterbi_states(emit, skip)
    if not len(path):
        return []
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


QUIET_RUN = 12  # frames: a longer run of best-path blanks is read as blank inside (``quiet_long_blanks``)
QUIET_MARGIN = 3  # frames kept as they are at each end of such a run


def quiet_long_blanks(logprobs: np.ndarray, min_run: int = QUIET_RUN, margin: int = QUIET_MARGIN) -> np.ndarray:
    """``logprobs`` with the inside of every run of at least ``min_run`` frames whose most likely label is the
    blank (all but ``margin`` frames at each end) made certain blanks. A blank stretch (a margin, a gap) of many
    frames each giving a label a few percent sums, over the CTC paths, to a label that no frame favours: the
    beam search then appends runs of it ("COLIN" -> "COLINeee") where the best path reads nothing."""
    is_blank = (logprobs.argmax(1) == BLANK).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], is_blank, [0]])))
    long_runs = [(first, end) for first, end in zip(edges[::2], edges[1::2]) if end - first >= min_run]  # [first, end)
    if not long_runs:
        return logprobs
    out = logprobs.copy()
    for first, end in long_runs:
        out[first + margin: end - margin] = -np.inf
        out[first + margin: end - margin, BLANK] = 0.0
    return out


def beam_decode(logprobs: np.ndarray, codec: Codec, beam: int = DEFAULT_BEAM, stride: int = 4,
                lm: LanguageModel | None = None) -> LineRecognition:
    """Prefix beam search for the text (inside long blank stretches, only blanks: ``quiet_long_blanks``), then
    a forced alignment of it for spans and confidences."""
    logprobs = np.asarray(logprobs, np.float32)
    labels, _ = fastdecode.prefix_beam_search(quiet_long_blanks(logprobs), beam,
                                              lm=lm.compiled() if lm is not None else None)
    return _result(logprobs, align(logprobs, labels), codec, stride)


def decode(logprobs: np.ndarray, codec: Codec, beam: int = 0, stride: int = 4,
           lm: LanguageModel | None = None) -> LineRecognition:
    """Greedy when ``beam`` < 2, else beam search of that width (with ``lm`` if given)."""
    if beam and beam > 1:
        return beam_decode(logprobs, codec, beam, stride, lm)
    return greedy_decode(logprobs, codec, stride)
