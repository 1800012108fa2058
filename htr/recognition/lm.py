"""A character n-gram language model for CTC beam search (interpolated Witten-Bell smoothing).

Built from transcriptions by ``htr train lm`` and shipped as ``htr/weights/lm.json.gz``: counts of each
character after each context of up to ``order - 1`` characters, lines starting with a line-start mark.
``logprob(context, char)`` is what the beam search adds (times a weight) when a prefix grows by a character.
"""
from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from pathlib import Path

START = "\x02"  # line start: the context of a line's first characters


class CharLM:
    def __init__(self, order: int, counts: dict[str, dict[str, int]], meta: dict | None = None):
        self.order = order
        self.counts = counts  # context -> {next char: count}; "" is the unigram context
        self.meta = dict(meta or {})
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
        path = Path(path)
        tmp = path.with_name(path.name + ".part")
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            json.dump({"order": self.order, "meta": self.meta, "counts": self.counts}, f, ensure_ascii=False,
                      separators=(",", ":"))
        tmp.replace(path)

    @classmethod
    def load(cls, path) -> "CharLM":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            blob = json.load(f)
        return cls(blob["order"], blob["counts"], blob.get("meta"))

    def perplexity(self, texts) -> float:
        """Per-character perplexity of ``texts`` (each scored from a line start)."""
        total, n = 0.0, 0
        for text in texts:
            for i, ch in enumerate(text):
                total -= math.log(self.prob(text[:i], ch))
                n += 1
        return math.exp(total / max(1, n))
