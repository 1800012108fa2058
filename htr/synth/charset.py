"""The characters synthetic text uses, and fitting a text to what one font can draw."""
from __future__ import annotations

from htr.charset import CHARSET, stand_in  # noqa: F401 (CHARSET: the one table, used from here)

# A font is dropped unless it draws all of these; other characters it lacks are avoided in its text.
REQUIRED = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + ".,;:!?'\"-()/&")


def fit_text(text: str, covered: str | set) -> str:
    """The text with every character the font does not cover replaced (accents stripped, symbols spelled
    plainly) or dropped; whitespace runs collapse to single spaces."""
    covered = set(covered) | {" "}
    out = []
    for ch in text:
        if ch in covered:
            out.append(ch)
            continue
        out.append("".join(c for c in stand_in(ch) if c in covered))
    return " ".join("".join(out).split())
