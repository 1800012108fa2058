"""Text for synthesis: English (and some French, German, Spanish) sentences, names, dates, addresses,
numbers, amounts and abbreviations from Faker, mixed with the real training transcriptions of
../shared/data (hooker and testaments train splits) when that folder is there.

Every function takes a numpy Generator and is deterministic given it (Faker is seeded from it).
"""
from __future__ import annotations

import datetime
from functools import lru_cache

import numpy as np

from htr.paths import shared_dir
from htr.synth.charset import CHARSET

LANGS = ("en", "fr", "de", "es")
LANG_P = (0.64, 0.14, 0.12, 0.10)
LOCALES = {"en": "en_US", "fr": "fr_FR", "de": "de_DE", "es": "es_ES"}
ABBREVIATIONS = {
    "en": ["etc.", "e.g.", "i.e.", "approx.", "Mr.", "Mrs.", "Dr.", "St.", "Rd.", "No.", "p.m.", "a.m.",
           "Co.", "Ltd.", "inst.", "ult.", "viz.", "cf.", "Jan.", "Feb.", "Aug.", "Sept.", "Oct.", "Nov.",
           "Dec."],
    "fr": ["M.", "Mme", "Mlle", "etc.", "p. ex.", "c.-à-d.", "n°", "St", "av.", "bd", "env."],
    "de": ["z.B.", "u.a.", "usw.", "bzw.", "Nr.", "Str.", "Hr.", "Fr.", "ca.", "d.h.", "vgl."],
    "es": ["Sr.", "Sra.", "Dña.", "etc.", "p. ej.", "núm.", "Avda.", "aprox.", "Ud."],
}
FIRST_DATE = datetime.date(1800, 1, 1)  # dates drawn from 1800-2029
DATE_SPAN_DAYS = (datetime.date(2030, 1, 1) - FIRST_DATE).days
CURRENCY = {"en": ["£", "$", "€"], "fr": ["€", "F"], "de": ["€", "DM"], "es": ["€", "pts"]}


@lru_cache(maxsize=1)
def real_lines() -> tuple[str, ...]:
    """Transcribed lines of the shared training pages, cleaned to CHARSET; () when the data is absent."""
    from xml.etree import ElementTree as etree

    root = shared_dir() / "data"
    out = []
    for path in sorted((root / "hooker" / "train").glob("*.xml")):
        for tl in etree.parse(str(path)).iterfind(".//{*}TextLine"):
            u = tl.find("{*}TextEquiv/{*}Unicode")
            out.append(u.text if u is not None and u.text else "")
    for path in sorted((root / "testaments" / "train").glob("*.xml")):
        for tl in etree.parse(str(path)).iterfind(".//{*}TextLine"):
            out.append(" ".join(s.get("CONTENT", "") for s in tl.iterfind(".//{*}String")))
    allowed = set(CHARSET)
    cleaned = []
    for line in out:
        line = line.replace("\u00a0", " ").replace("ſ", "s").replace("^", "")
        line = " ".join("".join(c for c in line if c in allowed).split())
        if len(line) >= 3:
            cleaned.append(line)
    return tuple(cleaned)


@lru_cache(maxsize=1)
def _fakers() -> dict:
    from faker import Faker

    return {lang: Faker(loc) for lang, loc in LOCALES.items()}


def faker(rng: np.random.Generator, lang: str):
    fake = _fakers()[lang]
    fake.seed_instance(int(rng.integers(2**31)))
    return fake


def pick_lang(rng: np.random.Generator) -> str:
    return LANGS[int(rng.choice(len(LANGS), p=LANG_P))]


def sentence(rng, lang):
    return faker(rng, lang).sentence(nb_words=int(rng.integers(3, 14)))


def name(rng, lang):
    fake = faker(rng, lang)
    r = rng.random()
    if r < 0.3:
        return f"{rng.choice(ABBREVIATIONS[lang][:4])} {fake.last_name()}" if lang == "en" else fake.name()
    if r < 0.5:
        return f"{fake.first_name()[0]}. {fake.last_name()}"
    return fake.name()


def date(rng, lang):
    fake = faker(rng, lang)
    d = FIRST_DATE + datetime.timedelta(days=int(rng.integers(DATE_SPAN_DAYS)))  # not Faker's: it ends today
    month = fake.month_name()
    style = int(rng.integers(6))
    if style == 0:
        return d.strftime("%d/%m/%Y") if lang != "de" else d.strftime("%d.%m.%Y")
    if style == 1:
        return d.strftime("%d.%m.%y") if lang == "de" else d.strftime("%m/%d/%y")
    if style == 2 and lang == "en":
        suffix = "th" if 10 <= d.day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
        return f"{month} {d.day}{suffix}, {d.year}"
    if style == 3:
        return d.isoformat()
    lead = {"en": "", "fr": "le ", "de": "den ", "es": ""}[lang] if rng.random() < 0.3 else ""
    sep = {"de": ". ", "es": " de "}.get(lang, " ")
    tail = " de " if lang == "es" else " "
    return f"{lead}{d.day}{sep}{month}{tail}{d.year}"


def address(rng, lang):
    fake = faker(rng, lang)
    return rng.choice([fake.street_address(), f"{fake.postcode()} {fake.city()}", fake.city(),
                       fake.address().replace("\n", ", ")])


def number(rng, lang):
    fake = faker(rng, lang)
    r = int(rng.integers(8))
    value = float(rng.lognormal(3.0, 2.0))
    if r == 0:
        cur = rng.choice(CURRENCY[lang])
        amount = f"{value:,.2f}"
        if lang != "en":
            amount = amount.replace(",", " ").replace(".", ",")
        return f"{cur}{amount}" if cur in "£$" else f"{amount} {cur}"
    if r == 1:
        return f"{int(value) % 100}%"
    if r == 2:
        return fake.phone_number()
    if r == 3:
        return f"{rng.choice(['No.', 'Nr.', 'n°', '#'])} {int(value) % 1000}"
    if r == 4:
        return f"{int(rng.integers(-20, 40))}°C"
    if r == 5:
        return f"§ {int(rng.integers(1, 300))}"
    if r == 6:
        return f"{int(value):,}"
    return f"{value:.{int(rng.integers(0, 3))}f}"


def phrase(rng, lang=None, real: bool = True) -> str:
    """One piece of text: mostly sentences, else names, dates, addresses, numbers and abbreviations;
    ``real``: some real transcribed lines too."""
    lang = lang or pick_lang(rng)
    r = rng.random()
    real = real_lines() if real else ()
    if r < 0.3 and real and lang in ("en", "fr"):
        return real[int(rng.integers(len(real)))]
    if r < 0.62:
        return sentence(rng, lang)
    if r < 0.72:
        return name(rng, lang)
    if r < 0.8:
        return date(rng, lang)
    if r < 0.87:
        return address(rng, lang)
    if r < 0.95:
        return number(rng, lang)
    words = sentence(rng, lang).rstrip(".").split()
    words.insert(int(rng.integers(len(words) + 1)), rng.choice(ABBREVIATIONS[lang]))
    return " ".join(words) + rng.choice([".", ",", ";", ":", "!", "?", " ...", " -", ""])


def line_text(rng, max_chars: int = 60, lang=None, real: bool = True) -> str:
    """Text for one line: phrases joined and cut at a word boundary to at most max_chars (one word
    at least)."""
    lang = lang or pick_lang(rng)
    text = phrase(rng, lang, real)
    while len(text) < max_chars * 0.6 and rng.random() < 0.6:
        joiner = " " if text[-1] in ".,;:!?" else rng.choice([" ", ", ", "; ", " - "])
        text += joiner + phrase(rng, lang, real)
    words = text.split()
    out = words[0]
    for w in words[1:]:
        if len(out) + 1 + len(w) > max_chars:
            break
        out += " " + w
    return out


def paragraph(rng, n_chars: int, lang=None) -> str:
    """Running text of about n_chars characters in one language (for page bodies)."""
    lang = lang or pick_lang(rng)
    parts = []
    total = 0
    while total < n_chars:
        r = rng.random()
        real = real_lines() if lang in ("en", "fr") else ()
        part = real[int(rng.integers(len(real)))] if r < 0.35 and real else sentence(rng, lang)
        if r > 0.85:
            part = part.rstrip(".") + " " + rng.choice([number, date, name])(rng, lang) + "."
        parts.append(part)
        total += len(part) + 1
    return " ".join(parts)
