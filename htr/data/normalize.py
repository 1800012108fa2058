"""The one place where ground-truth transcriptions are normalised before htr learns from them (or is scored).

The sources' conventions differ (see training/corpus.toml, each source's notes); htr is taught one reading of
the ink, the text a person searching the page would type:
- Unicode NFC; every run of whitespace (tabs, no-break and other spaces) is one space; none at either end.
- Line-end hyphenation marks (``¬``, ``⸗``, a ``=`` ending a line) become ``-``; long s ``ſ`` becomes ``s``.
- Superscripts are written on the line: ``M^r`` and ``Mʳ`` both become ``Mr`` (``^`` dropped, modifier letters
  ʳ ᵉ ᵈ ˡ ᵗ ˢ ᵇ ⁱ ᵒ ⁿ ᵐ as their letters); underlining marks ``_`` (``_CONCLUSION``, ``_d°_``) are dropped.
- Quotes: ``’`` ``‘`` ``ʼ`` ``′`` become ``'``, ``“`` ``”`` ``„`` ``″`` become ``"``; dashes ``‐`` ``‑`` ``‒``
  become ``-``.
- Crossed-out text is read as the text it is: the markers of ``>text<`` and ``⟦text⟧`` are dropped, and the
  combining strike-through (U+0336); insertion signs (``⋎`` ``⎀`` ``‸``) are dropped; ``|`` between two letters
  (a line-break mark inside a word) is dropped.
- Mistakes of encoding: a literal ``&amp;`` is ``&``; Cyrillic ``ӓ ӧ Ӓ`` typed for Latin ``ä ö Ä`` are mapped.
- Private-use code points (MUFI glyphs without a standard code point) and control or format characters
  (zero-width spaces, soft hyphens) are dropped.
Abbreviations stay as transcribed (``ꝑ``, ``⁊``, ``M~gr``, combining tildes), as do punctuation and case.

A line is left out of training (``unusable``) when it holds a placeholder instead of ink that was read:
illegible or uncertain readings (``[?]``, ``[..]``, ``[[...]]``, ``[illisible]``, a standalone ``XXX``),
crossed-out text that could not be read (``><``, ``<>``), a signature placeholder (``¥``) or handwriting left
untranscribed on a typed page (``~~~``).
"""
from __future__ import annotations

import re
import unicodedata

VERSION = 3  # bump when the rules change: compiled corpora are rebuilt

CHARACTERS = str.maketrans({
    "ſ": "s", "¬": "-", "⸗": "-", "‐": "-", "‑": "-", "‒": "-",
    "’": "'", "‘": "'", "ʼ": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"',
    "ʳ": "r", "ᵉ": "e", "ᵈ": "d", "ˡ": "l", "ᵗ": "t", "ˢ": "s", "ᵇ": "b", "ⁱ": "i", "ᵒ": "o", "ⁿ": "n", "ᵐ": "m",
    "^": None, "_": None, "⋎": None, "⎀": None, "‸": None, "\u0336": None, "⟦": None, "⟧": None,
    "ӓ": "ä", "ӧ": "ö", "Ӓ": "Ä",
})
CROSSED_OUT = re.compile(r">([^<>]+)<")  # >text<: struck through but legible
BAR_IN_WORD = re.compile(r"(?<=[^\W\d_])\|(?=[^\W\d_])")
LINE_END_EQUALS = re.compile(r"(?<=\w)=$")
PLACEHOLDERS = re.compile(r"\[\?\]|\[\.\.+\]|\[\[.*?\]\]|\[illisible\]|(?<![\w])XXX+(?![\w])|><|<>|¥|~~~", re.IGNORECASE)


def _kept(ch: str) -> bool:
    if "\ue000" <= ch <= "\uf8ff":
        return False
    return unicodedata.category(ch) not in ("Cc", "Cf") or ch in "\t\n"


def normalize_text(text: str) -> str:
    """A transcription as htr learns it (see the module's docstring for the rules)."""
    text = unicodedata.normalize("NFC", text.replace("&amp;", "&"))
    text = CROSSED_OUT.sub(r"\1", text).translate(CHARACTERS)
    text = "".join(ch for ch in text if _kept(ch))
    text = BAR_IN_WORD.sub("", " ".join(text.split()))
    return unicodedata.normalize("NFC", LINE_END_EQUALS.sub("-", text))


def unusable(text: str) -> str | None:
    """Why a transcription cannot be learned from (a placeholder instead of a reading), or None."""
    match = PLACEHOLDERS.search(unicodedata.normalize("NFC", text))
    return f"placeholder in the text ({match.group(0)!r})" if match else None
