"""Page layouts: letters, notes and lists, forms, two columns, marginal notes, tables, mixed print and hand.

Each layout writes onto a PageCanvas in reading order, given a handwriting Writer and a print Writer.
"""
from __future__ import annotations

import numpy as np

from htr.synth import text as corpus
from htr.synth.canvas import PageCanvas, Writer

GREETINGS = {"en": ["Dear {n},", "My dear {f},", "Dear Sir,", "Dear Madam,"],
             "fr": ["Cher Monsieur,", "Chère Madame,", "Mon cher {f},", "Monsieur {l},"],
             "de": ["Sehr geehrte Frau {l},", "Sehr geehrter Herr {l},", "Lieber {f},", "Liebe {f},"],
             "es": ["Estimado Sr. {l}:", "Querida {f}:", "Estimada Sra. {l}:", "Muy señor mío:"]}
CLOSINGS = {"en": ["Yours sincerely,", "Yours faithfully,", "With best wishes,", "Yours ever,",
                   "Kind regards,"],
            "fr": ["Bien cordialement,", "Je vous embrasse,", "Veuillez agréer mes salutations distinguées."],
            "de": ["Mit freundlichen Grüßen", "Herzliche Grüße", "Dein"],
            "es": ["Atentamente,", "Un abrazo,", "Saludos cordiales,"]}
FIELDS = {  # label -> kind of value
    "en": [("Name", "name"), ("Date of birth", "date"), ("Address", "address"), ("Telephone", "phone"),
           ("Date", "date"), ("Amount", "amount"), ("Reference No.", "number"), ("Occupation", "job"),
           ("City", "city"), ("Signature", "name")],
    "fr": [("Nom et prénom", "name"), ("Date de naissance", "date"), ("Adresse", "address"),
           ("Téléphone", "phone"), ("Ville", "city"), ("Montant", "amount"), ("Profession", "job")],
    "de": [("Name, Vorname", "name"), ("Geburtsdatum", "date"), ("Anschrift", "address"),
           ("Telefon", "phone"), ("Ort", "city"), ("Betrag", "amount"), ("Beruf", "job")],
    "es": [("Nombre y apellidos", "name"), ("Fecha de nacimiento", "date"), ("Dirección", "address"),
           ("Teléfono", "phone"), ("Ciudad", "city"), ("Importe", "amount"), ("Profesión", "job")],
}
TABLE_HEADS = {"en": [["Date", "Description", "Qty", "Amount"], ["Name", "Address", "Date"]],
               "fr": [["Date", "Désignation", "Qté", "Montant"], ["Nom", "Adresse", "Date"]],
               "de": [["Datum", "Beschreibung", "Menge", "Betrag"], ["Name", "Anschrift", "Datum"]],
               "es": [["Fecha", "Descripción", "Cant.", "Importe"], ["Nombre", "Dirección", "Fecha"]]}


def value(rng, kind: str, lang: str) -> str:
    """A form or table value of the given kind."""
    if kind == "name":
        return corpus.name(rng, lang)
    if kind == "date":
        return corpus.date(rng, lang)
    if kind == "address":
        return corpus.address(rng, lang)
    fake = corpus.faker(rng, lang)
    if kind == "phone":
        return fake.phone_number()
    if kind == "city":
        return fake.city()
    if kind == "job":
        return fake.job()
    if kind == "qty":
        return str(int(rng.integers(1, 40)))
    if kind == "description":
        return corpus.sentence(rng, lang).rstrip(".")
    return corpus.number(rng, lang)


def _margins(c: PageCanvas, rng):
    left = int(c.width * rng.uniform(0.07, 0.13))
    right = c.width - int(c.width * rng.uniform(0.06, 0.11))
    top = int(c.height * rng.uniform(0.05, 0.09))
    bottom = c.height - int(c.height * rng.uniform(0.05, 0.08))
    return left, right, top, bottom


def letter(c: PageCanvas, rng, hand: Writer, typed: Writer, lang: str, pitch=None, top=None) -> None:
    left, right, top0, bottom = _margins(c, rng)
    y = top or top0
    fake = corpus.faker(rng, lang)
    if rng.random() < 0.7:  # printed letterhead
        head = typed.with_size(int(typed.size * rng.uniform(1.3, 1.8)))
        lines = [c.write(fake.company(), head, left, y + head.size, "center", right - left)]
        y += head.line_height()
        for t in [fake.street_address(), f"{fake.postcode()} {fake.city()}", fake.phone_number()][
                :int(rng.integers(1, 4))]:
            lines.append(c.write(t, typed, left, y + typed.size, "center", right - left))
            y += typed.line_height()
        c.add_block(lines, "header")
        if rng.random() < 0.5:
            c.rule((left, y + 10), (right, y + 10), typed.ink, 2)
        y += typed.size
    pitch = pitch or hand.line_height()
    y = _snap(y + pitch, pitch, top)
    c.add_block([c.write(corpus.date(rng, lang), hand, left, y, "right", right - left)], "paragraph")
    y += pitch * rng.uniform(1, 2)
    y = _snap(y, pitch, top)
    greet = str(rng.choice(GREETINGS[lang])).format(n=corpus.name(rng, lang), f=fake.first_name(),
                                                   l=fake.last_name())
    c.add_block([c.write(greet, hand, left, y, max_width=right - left)], "paragraph")
    y += pitch
    for _ in range(int(rng.integers(1, 4))):
        if y > bottom - 4 * pitch:
            break
        y = c.paragraph(corpus.paragraph(rng, int(rng.uniform(150, 600)), lang), hand, left, y,
                        right - left, bottom - 3 * pitch, indent=hand.size * rng.uniform(0, 3), pitch=pitch)
        y += pitch * float(rng.choice([0, 0, 1]))
    x = left + (right - left) * rng.uniform(0.3, 0.55)
    closing = str(rng.choice(CLOSINGS[lang]))
    line = c.write(closing, hand, x, y, max_width=right - x)
    if line is None:  # too long to sit on the right: start it at the margin
        line = c.write(closing, hand, left, y, max_width=right - left)
    c.add_block([line], "paragraph")
    sig = hand.with_size(int(hand.size * rng.uniform(1.1, 1.6)))
    c.add_block([c.write(fake.name(), sig, x, y + pitch * 1.3, max_width=right - x)], "signature-mark")


def _snap(y: float, pitch: float, top) -> float:
    """y moved down onto the next ruling when the paper is ruled from top with the given pitch."""
    if top is None:
        return y
    return top + np.ceil((y - top) / pitch) * pitch


def notes(c: PageCanvas, rng, hand: Writer, typed: Writer, lang: str, pitch=None, top=None) -> None:
    left, right, top0, bottom = _margins(c, rng)
    pitch = pitch or hand.line_height()
    y = _snap((top or top0) + pitch, pitch, top)
    title = corpus.line_text(rng, 30, lang).rstrip(".,;")
    line = c.write(title, hand.with_size(int(hand.size * 1.2)), left, y, max_width=right - left)
    if line is not None and rng.random() < 0.5:
        x0, _, x1, y1 = line.bbox
        c.rule((x0, y1 + 4), (x1, y1 + 6), hand.ink, max(1, hand.size // 20))
    c.add_block([line], "heading")
    y += pitch * 1.5
    y = _snap(y, pitch, top)
    marker = str(rng.choice(["-", "*", "1.", "a)", "", "o"]))
    i = 0
    while y < bottom - pitch:
        i += 1
        label = {"1.": f"{i}.", "a)": f"{chr(96 + min(i, 26))})"}.get(marker, marker)
        item = corpus.line_text(rng, int(rng.integers(10, 90)), lang)
        indent = hand.size * 1.5 if label else 0
        if label:
            c.add_block([c.write(label, hand, left, y, max_width=indent)], "list-label")
        y = c.paragraph(item, hand, left + indent, y, right - left - indent, bottom - pitch, pitch=pitch)
        y += pitch * float(rng.choice([0, 0, 0.5])) if top is None else 0


def form(c: PageCanvas, rng, hand: Writer, typed: Writer, lang: str, **_) -> None:
    left, right, top, bottom = _margins(c, rng)
    head = typed.with_size(int(typed.size * rng.uniform(1.4, 1.9)))
    y = top + head.size
    title = corpus.faker(rng, lang).company() if rng.random() < 0.5 else corpus.line_text(rng, 30, lang)
    c.add_block([c.write(title.upper() if rng.random() < 0.5 else title, head, left, y, "center",
                         right - left)], "heading")
    y += head.line_height() * 1.5
    fields = list(FIELDS[lang])
    order = rng.permutation(len(fields))
    pitch = max(hand.line_height(), typed.line_height())
    pitch = max(pitch * 1.3, min(pitch * 3, (bottom - y) / len(fields) * rng.uniform(0.75, 1.0)))
    boxed = rng.random() < 0.4
    for k in order:
        if y > bottom:
            break
        label, kind = fields[k]
        label += ":" if rng.random() < 0.7 else ""
        lab = c.write(label, typed, left, y, max_width=(right - left) / 2)
        c.add_block([lab], "form-label")
        x = (lab.bbox[2] if lab is not None else left) + typed.size * rng.uniform(0.5, 1.5)
        if boxed:
            c.rect(x - 6, y - pitch * 0.7, right, y + pitch * 0.25, typed.ink * 0.3 + 120, 1)
        else:
            c.rule((x, y + 4), (right, y + 4), typed.ink * 0.3 + 100, 1)
        if rng.random() < 0.9:
            c.add_block([c.write(value(rng, kind, lang), hand, x + hand.size * rng.uniform(0, 2), y - 6,
                                 max_width=right - x - hand.size * 2)], "form-field")
        y += pitch


def two_columns(c: PageCanvas, rng, hand: Writer, typed: Writer, lang: str, **_) -> None:
    left, right, top, bottom = _margins(c, rng)
    w = typed if rng.random() < 0.5 else hand
    head = w.with_size(int(w.size * 1.5))
    y = top + head.size
    c.add_block([c.write(corpus.line_text(rng, 40, lang).rstrip("."), head, left, y, "center", right - left)],
                "heading")
    y += head.line_height() * 1.2
    gap = (right - left) * rng.uniform(0.04, 0.08)
    col = (right - left - gap) / 2
    for x in (left, left + col + gap):
        yy = y
        while yy < bottom - w.line_height() * 2:
            yy = c.paragraph(corpus.paragraph(rng, int(rng.uniform(200, 700)), lang), w, x, yy, col, bottom,
                             indent=w.size * rng.uniform(0, 2))
            yy += w.line_height() * 0.5


def marginal(c: PageCanvas, rng, hand: Writer, typed: Writer, lang: str, **_) -> None:
    left, right, top, bottom = _margins(c, rng)
    main = typed if rng.random() < 0.6 else hand
    margin_w = (right - left) * rng.uniform(0.22, 0.3)
    on_left = rng.random() < 0.5
    x = left + margin_w if on_left else left
    y = top + main.size
    while y < bottom - main.line_height() * 2:
        y = c.paragraph(corpus.paragraph(rng, int(rng.uniform(200, 800)), lang), main, x, y,
                        right - left - margin_w, bottom, indent=main.size * rng.uniform(0, 2))
        y += main.line_height() * 0.6
    note = hand.with_size(int(hand.size * rng.uniform(0.85, 1.0)))
    note.ink = note.ink if main is typed else np.array([150, 30, 30], np.float32)
    mx = left if on_left else right - margin_w * 0.85
    my = top + note.size
    for _ in range(int(rng.integers(1, 4))):
        my += rng.uniform(0, 0.3) * (bottom - top)
        if my > bottom - note.line_height() * 3:
            break
        my = c.paragraph(corpus.line_text(rng, 80, lang), note, mx, my, margin_w * 0.85, bottom,
                         kind="marginalia")


def table(c: PageCanvas, rng, hand: Writer, typed: Writer, lang: str, **_) -> None:
    left, right, top, bottom = _margins(c, rng)
    head = typed.with_size(int(typed.size * 1.4))
    y = top + head.size
    c.add_block([c.write(corpus.line_text(rng, 35, lang).rstrip("."), head, left, y, max_width=right - left)],
                "heading")
    y += head.line_height()
    heads = list(TABLE_HEADS[lang][int(rng.integers(2))])
    kinds = ["date", "description", "qty", "amount"] if len(heads) == 4 else ["name", "address", "date"]
    weights = np.array([1.2, 3.0, 0.7, 1.4] if len(heads) == 4 else [2.0, 3.0, 1.4])
    xs = left + np.concatenate([[0], np.cumsum(weights / weights.sum() * (right - left))])
    row_h = max(hand.line_height(), typed.line_height()) * rng.uniform(1.2, 1.6)
    n_rows = int(min(rng.integers(4, 16), (bottom - y) // row_h - 1))
    grid = typed.ink * 0.4 + 100
    for r in range(n_rows + 2):
        c.rule((left, y + r * row_h), (right, y + r * row_h), grid, 2 if r < 2 else 1)
    for x in xs:
        c.rule((x, y), (x, y + (n_rows + 1) * row_h), grid, 1)
    pad = hand.size * 0.3
    for j, h in enumerate(heads):
        c.add_block([c.write(h, typed, xs[j] + pad, y + row_h * 0.7, max_width=xs[j + 1] - xs[j] - 2 * pad)],
                    "table-header")
    for r in range(1, n_rows + 1):
        for j, kind in enumerate(kinds):
            if rng.random() < 0.1:
                continue
            text = value(rng, kind, lang)
            width = xs[j + 1] - xs[j] - 2 * pad
            words = c.wrap(text, hand, width)
            c.add_block([c.write(words[0] if words else text, hand, xs[j] + pad, y + r * row_h + row_h * 0.72,
                                 max_width=width)], "table-cell")


def mixed(c: PageCanvas, rng, hand: Writer, typed: Writer, lang: str, **_) -> None:
    """A typed document with handwritten annotations between paragraphs, a date and a signature."""
    left, right, top, bottom = _margins(c, rng)
    y = top + typed.size
    while y < bottom - 6 * hand.line_height():
        y = c.paragraph(corpus.paragraph(rng, int(rng.uniform(150, 500)), lang), typed, left, y, right - left,
                        bottom - 4 * hand.line_height(), indent=typed.size * float(rng.choice([0, 2])))
        if rng.random() < 0.5:
            x = left + rng.uniform(0, 0.3) * (right - left)
            y += hand.line_height() * 0.3
            y = c.paragraph(corpus.line_text(rng, 60, lang), hand, x, y, right - x, bottom)
        y += typed.line_height() * 0.5
    y = max(y, bottom - 3 * hand.line_height())
    c.add_block([c.write(corpus.date(rng, lang), hand, left, y, max_width=(right - left) / 2)], "paragraph")
    sig = hand.with_size(int(hand.size * 1.3))
    x = left + (right - left) * 0.55
    name = corpus.faker(rng, lang).name()
    c.add_block([c.write(name, sig, x, y + hand.line_height(), max_width=right - x)],
                "signature-mark")


LAYOUTS = {"letter": letter, "notes": notes, "form": form, "two_columns": two_columns, "marginal": marginal,
           "table": table, "mixed": mixed}
