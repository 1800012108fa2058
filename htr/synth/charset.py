"""The characters synthetic text uses, and fitting a text to what one font can draw."""
from __future__ import annotations

import unicodedata

ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
ACCENTED = "ÀÁÂÄÇÈÉÊËÎÏÑÓÔÖÙÚÛÜàáâäçèéêëíîïñóôöùúûüÿßœŒæÆ"
SYMBOLS = "£€°§…«»‘’“”–—¡¿"
CHARSET = ASCII + ACCENTED + SYMBOLS

# A font is dropped unless it draws all of these; other characters it lacks are avoided in its text.
REQUIRED = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + ".,;:!?'\"-()/&")

# Plain stand-ins for symbols a font lacks (accents are stripped instead).
FALLBACK = {
    "£": "L", "€": "EUR", "…": "...", "«": '"', "»": '"', "‘": "'", "’": "'", "“": '"', "”": '"',
    "–": "-", "—": "-", "°": "o", "§": "S", "¡": "", "¿": "", "ß": "ss", "œ": "oe", "Œ": "OE",
    "æ": "ae", "Æ": "AE", "\u00a0": " ", "ſ": "s",
}


def fit_text(text: str, covered: str | set) -> str:
    """The text with every character the font does not cover replaced (accents stripped, symbols spelled
    plainly) or dropped; whitespace runs collapse to single spaces."""
    covered = set(covered) | {" "}
    out = []
    for ch in text:
        if ch in covered:
            out.append(ch)
            continue
        sub = FALLBACK.get(ch)
        if sub is None:
            sub = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append("".join(c for c in sub if c in covered))
    return " ".join("".join(out).split())
