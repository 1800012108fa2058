"""The report of a compiled corpus: pages, lines and characters per source and split, what was left out and why,
and the characters the shipped recogniser cannot emit."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from htr.data.compile import SPLITS
from htr.data.corpus import read_manifest

SHOWN_LEFT_OUT = 30  # left-out entries printed; all of them are in CORPUS/report.txt


def shipped_recogniser() -> tuple[str | None, int]:
    """The characters the shipped recogniser can emit (None where its weights are absent) and its crop height."""
    from htr.modelfile import load_model_file
    from htr.paths import default_weights

    if not default_weights("rec").is_file():
        return None, 40
    blob = load_model_file(None, "rec")
    return blob["charset"], int(blob["preprocess"]["height"])


def format_report(corpus: Path, charset: str | None, shown: int | None = SHOWN_LEFT_OUT) -> str:
    """The corpus report: a table per source and split, left-out reasons, the charset, every left-out entry
    (the first ``shown`` of them; None: all)."""
    manifest = read_manifest(corpus)
    reports = [json.loads((corpus / name / "report.json").read_text(encoding="utf-8"))
               for name in sorted(manifest["sources"])]
    width = max([len("source"), len("total")] + [len(r["name"]) for r in reports])
    rows = [f"{'source':<{width}}  {'split':<5} {'docs':>6} {'pages':>6} {'lines':>7} {'chars':>9}  left out"]
    totals = {s: Counter() for s in SPLITS}
    reasons: Counter = Counter()
    chars: Counter = Counter()
    left_out = []
    for r in reports:
        for k, s in enumerate(SPLITS):
            f = r["splits"][s]
            totals[s].update(f)
            first = k == 0
            note = ", ".join(f"{n} {why}" for why, n in r["left_out_reasons"].items()) if first else ""
            rows.append(f"{r['name'] if first else '':<{width}}  {s:<5} {f['documents']:>6} {f['pages']:>6} "
                        f"{f['lines']:>7} {f['chars']:>9}  {(str(len(r['left_out'])) + ': ' + note) if note else ''}")
        reasons.update(r["left_out_reasons"])
        chars.update(r["charset"])
        left_out += r["left_out"]
    for k, s in enumerate(SPLITS):
        f = totals[s]
        rows.append(f"{'total' if k == 0 else '':<{width}}  {s:<5} {f['documents']:>6} {f['pages']:>6} "
                    f"{f['lines']:>7} {f['chars']:>9}  {len(left_out) if k == 0 else ''}")
    rows.append("")
    rows.append("left out, by reason: " + (", ".join(f"{why} {n}" for why, n in reasons.most_common()) or "nothing"))
    rows.append(f"charset: {len(chars)} characters, by count: " +
                " ".join(f"{c!r}:{n}" for c, n in chars.most_common()))
    if charset is not None:
        from htr.recognition.codec import Codec

        codec = Codec(charset)
        missing = {c: n for c, n in chars.most_common() if codec.unknown_chars(c)}
        rows.append(f"not emitted by the shipped recogniser ({len(missing)} characters, "
                    f"{sum(missing.values())} occurrences): " +
                    (" ".join(f"{c!r} U+{ord(c):04X}:{n}" for c, n in missing.items()) or "none"))
    rows.append("")
    limit = len(left_out) if shown is None else min(shown, len(left_out))
    rows.append(f"left out ({len(left_out)}{'' if limit == len(left_out) else f', the first {limit}'}):")
    rows += [f"  {e['where']}\t{e['reason']}" for e in left_out[:limit]]
    if limit < len(left_out):
        rows.append(f"  ... {len(left_out) - limit} more in {corpus / 'report.txt'}")
    return "\n".join(rows)
