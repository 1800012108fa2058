"""The recogniser's alphabet: text to label indices and back, with the CTC blank at index 0.

Index 0 is the CTC blank, index 1 the unknown character (decoded as U+FFFD). Characters outside the
charset are first spelled with close stand-ins (``htr.charset.stand_in``: curly quotes to straight, accents
stripped); only what still has no stand-in becomes unknown (or is dropped or raises,
as ``unknown`` says).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from htr.charset import RECOGNISER_CHARSET, stand_in

BLANK = 0
UNKNOWN = 1
UNKNOWN_CHAR = "\ufffd"

DEFAULT_CHARSET = RECOGNISER_CHARSET


@dataclass
class Codec:
    """A charset: ``charset[i]`` is the character of label ``i + 2`` (0 is blank, 1 unknown)."""

    charset: str = DEFAULT_CHARSET
    _index: dict = field(init=False, repr=False)

    def __post_init__(self):
        chars = list(dict.fromkeys(self.charset))  # unique, order kept
        self.charset = "".join(chars)
        self._index = {c: i + 2 for i, c in enumerate(chars)}

    def __len__(self) -> int:
        """Number of classes, blank and unknown included."""
        return len(self.charset) + 2

    def normalize(self, text: str) -> str:
        """NFC text with characters outside the charset replaced by stand-ins where one exists."""
        text = unicodedata.normalize("NFC", text)
        out = []
        for ch in text:
            if ch in self._index:
                out.append(ch)
                continue
            sub = stand_in(ch)
            out.append(sub if sub and all(c in self._index for c in sub) else ch)
        return " ".join("".join(out).split())

    def encode(self, text: str, unknown: str = "keep") -> list[int]:
        """Label indices of ``text`` (normalised first). ``unknown``: "keep" maps uncovered characters to
        UNKNOWN, "drop" leaves them out, "error" raises ValueError."""
        labels = []
        for ch in self.normalize(text):
            i = self._index.get(ch)
            if i is None:
                if unknown == "error":
                    raise ValueError(f"character {ch!r} (U+{ord(ch):04X}) is not in the charset")
                if unknown == "drop":
                    continue
                i = UNKNOWN
            labels.append(i)
        return labels

    def decode(self, labels) -> str:
        """Text of label indices (already collapsed: no CTC merging here); blanks are skipped."""
        return "".join(self.char(int(i)) for i in labels if int(i) != BLANK)

    def char(self, label: int) -> str:
        if label == BLANK:
            return ""
        if label == UNKNOWN:
            return UNKNOWN_CHAR
        return self.charset[label - 2]

    def unknown_chars(self, text: str) -> set[str]:
        """The characters of ``text`` that would encode as UNKNOWN."""
        return {c for c in self.normalize(text) if c not in self._index}
