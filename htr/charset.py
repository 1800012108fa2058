"""The one character table: what synthetic text draws, what the recogniser emits, and the plain stand-ins
for characters outside a charset (used by ``htr.synth.charset.fit_text`` and ``htr.recognition.codec``)."""
from __future__ import annotations

import unicodedata

ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
ACCENTED = "ÀÁÂÄÇÈÉÊËÎÏÑÓÔÖÙÚÛÜàáâäçèéêëíîïñóôöùúûüÿßœŒæÆ"
SYMBOLS = "£€°§…«»‘’“”–—¡¿"
CHARSET = ASCII + ACCENTED + SYMBOLS  # what synthetic text is written in
TRANSCRIBED = "∞ſ"  # found in real transcriptions, not drawn by synthetic text (few fonts have them)
RECOGNISER_CHARSET = CHARSET + TRANSCRIBED  # a new recogniser's classes (training adds its data's characters)

# Stand-ins for characters outside a charset (accents are stripped where none is listed).
FALLBACK = {
    "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "–": "-", "—": "-",
    "…": "...", "€": "EUR", "£": "L", "°": "o", "§": "S", "ß": "ss", "œ": "oe", "Œ": "OE", "æ": "ae",
    "Æ": "AE", "ſ": "s", "\u00a0": " ", "\t": " ", "¬": "-", "¡": "", "¿": "",
}


def stand_in(ch: str) -> str:
    """The plain spelling of a character: its FALLBACK, else the character without its accents."""
    sub = FALLBACK.get(ch)
    if sub is None:
        sub = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return sub
