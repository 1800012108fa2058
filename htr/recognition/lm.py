"""A character n-gram language model for CTC beam search (interpolated Witten-Bell smoothing), and word lists.

Built from transcriptions by ``htr train lm`` and shipped as ``htr/weights/lm.json.gz``: counts of each
character after each context of up to ``order - 1`` characters, lines starting with a line-start mark.
``logprob(context, char)`` is what the beam search adds (times a weight) when a prefix grows by a character.
The file may also hold a word list per language (``lexicons``: lower-case words, most frequent first), which
the beam search rewards a word for being in (``--lang``); ``choose_language`` picks a page's language from a first
reading of it (``--lang auto``).
"""
from __future__ import annotations

import gzip
import json
import math
import re
from collections import defaultdict
from pathlib import Path

from htr.errors import UsageError
from htr.files import atomic_path

START = "\x02"  # line start: the context of a line's first characters
WORD_ENDS = " ,.;:!?)]»\"-"  # characters that close a word the lexicon is asked about
AUTO = "auto"  # --lang auto: each page's language chosen by choose_language
WORD = re.compile(r"[^\W\d_]{2,}")  # a word choose_language counts: a run of two or more letters
MIN_WORDS = 15  # words a first reading needs for choose_language to pick a language
MIN_MARGIN = 0.5  # nats a word by which the chosen language must beat the next one


class CharLM:
    def __init__(self, order: int, counts: dict[str, dict[str, int]], meta: dict | None = None,
                 lexicons: dict[str, list[str]] | None = None):
        self.order = order
        self.lexicons = dict(lexicons or {})  # language code -> lower-case words
        self.counts = counts  # context -> {next char: count}; "" is the unigram context
        self.meta = dict(meta or {})
        self.source: Path | None = None  # the file it was loaded from
        self.totals = {ctx: sum(nxt.values()) for ctx, nxt in counts.items()}
        self.vocab = len(counts.get("", {})) + 1  # + 1: characters never seen

    @classmethod
    def build(cls, texts, order: int = 6, meta: dict | None = None) -> "CharLM":
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for text in texts:
            line = START * (order - 1) + text
            for i in range(order - 1, len(line)):
                for n in range(order):
                    counts[line[i - n:i]][line[i]] += 1
        return cls(order, {ctx: dict(nxt) for ctx, nxt in counts.items()}, meta)

    def prob(self, context: str, char: str) -> float:
        """P(char | the last order - 1 characters of context), interpolated down to a uniform floor."""
        context = (START * (self.order - 1) + context)[len(context):]  # the last order - 1 characters
        p = 1.0 / self.vocab
        for n in range(0, self.order):  # shortest context first
            ctx = context[len(context) - n:] if n else ""
            nxt = self.counts.get(ctx)
            if nxt is None:
                break
            types, total = len(nxt), self.totals[ctx]
            p = (nxt.get(char, 0) + types * p) / (total + types)
        return p

    def logprob(self, context: str, char: str) -> float:
        return math.log(self.prob(context, char))

    def save(self, path) -> None:
        with atomic_path(path) as tmp, gzip.open(tmp, "wt", encoding="utf-8") as f:
            json.dump({"order": self.order, "meta": self.meta, "counts": self.counts,
                       "lexicons": {lang: "\n".join(words) for lang, words in self.lexicons.items()}},
                      f, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, path) -> "CharLM":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            blob = json.load(f)
        lexicons = {lang: words.split("\n") for lang, words in blob.get("lexicons", {}).items()}
        model = cls(blob["order"], blob["counts"], blob.get("meta"), lexicons)
        model.source = Path(path)  # the file: derived tables are cached under its digest (fastdecode)
        return model

    def words(self, langs) -> frozenset[str]:
        """The union of the word lists of ``langs`` (unknown codes raise UsageError)."""
        unknown = [lang for lang in langs if lang not in self.lexicons]
        if unknown:
            have = ", ".join(sorted(self.lexicons)) or "none"
            raise UsageError(f"--lang: no word list for {', '.join(unknown)} in the language model (it has: {have})")
        return frozenset(w for lang in langs for w in self.lexicons[lang])

    def perplexity(self, texts) -> float:
        """Per-character perplexity of ``texts`` (each scored from a line start)."""
        total, n = 0.0, 0
        for text in texts:
            for i, ch in enumerate(text):
                total -= math.log(self.prob(text[:i], ch))
                n += 1
        return math.exp(total / max(1, n))


def word_ranks(lexicons: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Each word list as {word: its rank} (the lists are most frequent first)."""
    return {lang: {w: i for i, w in enumerate(words)} for lang, words in lexicons.items()}


def choose_language(texts, ranks: dict[str, dict[str, int]], min_words: int = MIN_WORDS,
                    min_margin: float = MIN_MARGIN) -> str | None:
    """The language of ``texts`` (a first reading of a page's lines): the one under which their words (WORD, in
    lower case) are likeliest, a word taken to have probability proportional to 1 / (its rank + 1) in that
    language's word list (Zipf's law) and a word not in it the rank after the longest list's last. None when the
    texts have fewer than ``min_words`` words, or the best language beats the next by under ``min_margin`` nats
    a word (``ranks``: ``word_ranks`` of the word lists)."""
    words = [w for text in texts for w in WORD.findall(text.lower())]
    if len(words) < min_words or not ranks:
        return None
    unknown = max(map(len, ranks.values()))
    scores = sorted(((-sum(math.log(r.get(w, unknown) + 1) for w in words), lang) for lang, r in ranks.items()),
                    reverse=True)
    if len(scores) > 1 and scores[0][0] - scores[1][0] < min_margin * len(words):
        return None
    return scores[0][1]
