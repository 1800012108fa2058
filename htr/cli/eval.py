"""`htr eval text | detect | lines | pages`: OCR output, and htr's models beside other engines (--system),
scored against ground truth; one table and JSON printer for all four. The runs themselves are
``htr.evaluation``'s."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from htr.cli.options import (add_json, add_limit, add_reader_options, add_recognizer_options, add_runtime,
                             add_scoring_options, add_system_option, add_threads, add_weights, reader, recognizer)
from htr.errors import HTRError

# ------------------------------------------------------------------------------------------------ printing

# A table column: (key in the figures, title, alignment and width, value format).
SYSTEM = ("system", "system", "<9", "")
CER, WER = ("cer", "CER", ">7", ".4f"), ("wer", "WER", ">7", ".4f")
BOW_F1 = ("bow_f1", "BoW-F1", ">7", ".4f")
X_HTR = ("x_htr", "x htr", ">6", ".2f")
DIGITS = {"cer": 4, "wer": 4, "bow_f1": 4, "precision": 4, "recall": 4, "f1": 4, "x_htr": 3, "median_seconds": 3,
          "lines_per_second": 2, "order": 4, "moved": 4, "cer_lost": 4}  # decimals kept in JSON reports


def folder_column(width: int) -> tuple[str, str, str, str]:
    return ("folder", "folder", f"<{width}", "")


def header(columns, note: str = "") -> str:
    return " ".join(format(title, align) for _, title, align, _ in columns) + note


def row(figures: dict, columns) -> str:
    """A table line of ``figures``; a missing or None value prints as '-'."""
    cells = (format("-" if figures.get(key) is None else format(figures[key], spec), align)
             for key, _, align, spec in columns)
    return " ".join(cells)


def system_rows(label: str, systems: dict[str, dict], columns, common: dict) -> str:
    """A folder's table lines, one per system (the folder named on the first); ``common``: figures of them all."""
    lines = []
    for name, figures in systems.items():
        lines.append(row({**common, **figures, "folder": label, "system": name}, columns))
        label = ""
    return "\n".join(lines)


def rounded(figures: dict) -> dict:
    """Figures as JSON reports give them: DIGITS decimals."""
    return {k: round(v, DIGITS[k]) if k in DIGITS and v is not None else v for k, v in figures.items()}


def ratio(value: float, htr_value: float) -> float | None:
    """A system's error as a multiple of htr's (None when htr's is 0 or unknown)."""
    return value / htr_value if htr_value else None


def median(values: list[float]) -> float:
    return float(np.median(values))


def folders_of(names: list[str], missing: str = "no such folder") -> list[Path]:
    folders = list(map(Path, names))
    for folder in folders:
        if not folder.is_dir():
            raise HTRError(f"{folder}: {missing}")
    return folders


# ------------------------------------------------------------------------------------------------ commands

def register(commands) -> None:
    evaluate = commands.add_parser("eval", help="score OCR output against ground truth",
                                   description="Score OCR output against ground truth.")
    sub = evaluate.add_subparsers(dest="eval_command", metavar="WHAT", required=True)

    p = sub.add_parser(
        "text", help="CER, WER and bag-of-words F1 of page texts",
        description="Character and word error rates (edit distance over the ground truth's length, whitespace "
                    "normalised) and order-free bag-of-words precision/recall/F1 of predicted page texts. PRED "
                    "and GT are two files, or two folders of PAGE/ALTO/hOCR/JSON/txt documents matched by name. "
                    "Totals are micro-averages over all pages.")
    p.add_argument("pred", help="predicted document or folder")
    p.add_argument("gt", help="ground-truth document or folder")
    add_scoring_options(p)
    p.set_defaults(func=run_text)

    p = sub.add_parser(
        "detect", help="precision, recall and F1 of detected line polygons",
        description="Detect the lines of every page image in a folder with ground-truth PAGE/ALTO beside it, and "
                    "score them: one-to-one matching at an IoU threshold, per folder and in total.")
    p.add_argument("gt", nargs="+", help="folders of page images with ground-truth PAGE/ALTO XML of the same name "
                                         "(each folder holding XML, sub-folders too, is scored separately), or "
                                         "compiled corpora (a row per source)")
    add_weights(p, "det")
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a match (default 0.5)")
    p.add_argument("--kind", default="line", choices=("line", "word"), help="what to score (default: line)")
    p.add_argument("--split", default="dev", choices=("dev", "train"),
                   help="for a compiled corpus (htr data compile) given as GT: the split scored, a row per source "
                        "(default: dev)")
    add_limit(p)
    add_threads(p)
    add_runtime(p)
    add_system_option(p)
    add_json(p)
    p.set_defaults(func=run_detect)

    p = sub.add_parser(
        "lines", help="CER and WER of recognised ground-truth lines",
        description="Crop every ground-truth line of a folder of page images with PAGE/ALTO beside them, recognise "
                    "it, and print CER and WER per folder and in total.")
    p.add_argument("gt_dirs", nargs="+", help="folders of PAGE-XML/ALTO ground truth beside their page images, "
                                              "or of line/word crops listed in labels.tsv (image, tab, text) or "
                                              "lines.jsonl (htr synth lines)")
    add_limit(p, "documents")
    p.add_argument("--split", default="dev", choices=("dev", "train"),
                   help="for a compiled corpus (htr data compile) given as GT_DIR: the split read, a row per "
                        "source (default: dev)")
    add_system_option(p)
    add_recognizer_options(p)
    add_scoring_options(p, "print JSON")
    p.add_argument("--calibration", action="store_true",
                   help="also print how far htr's confidences are probabilities, per folder and in total: a "
                        "reliability table of word confidences (a word right: read exactly, case and punctuation "
                        "included) and of line confidences (a line right: no error), each bin's count, mean "
                        "confidence and share right, and the expected calibration error (ECE), with the raw "
                        "scores' ECE beside it")
    p.add_argument("--calibration-plot", metavar="PNG",
                   help="with --calibration: write the total's reliability diagram (raw, calibrated) there")
    p.set_defaults(func=run_lines)

    p = sub.add_parser(
        "pages", help="page CER and bag-of-words F1 of the full pipeline",
        description="Read every page image of folders with ground-truth PAGE/ALTO beside them with the full "
                    "pipeline (and with other engines, --system) and score the page text in reading order: CER, "
                    "WER, bag-of-words F1 and seconds per page, per folder and in total; and htr's reading order "
                    "(htr.reading_order): order, the share of pairs of lines matched to ground-truth lines that "
                    "are in the ground truth's order; moved, the share of matched lines out of place; CER-ord, "
                    "the page CER lost to the order alone.")
    p.add_argument("gt_dirs", nargs="+", help="folders of page images with ground-truth PAGE/ALTO beside them, or "
                                              "compiled corpora (a row per source)")
    p.add_argument("--split", default="dev", choices=("dev", "train"),
                   help="for a compiled corpus (htr data compile) given as GT_DIR: the split read (default: dev)")
    add_system_option(p)
    p.add_argument("--gt-lines", action="store_true",
                   help="htr reads the ground-truth lines instead of detecting them (the recogniser's and the "
                        "layout's share of the error: reading order is the ground truth's)")
    add_limit(p)
    add_scoring_options(p)
    add_reader_options(p)
    p.set_defaults(func=run_pages)


def _text_figures(s) -> dict:
    return {"cer": s.cer, "wer": s.wer, "bow_precision": s.bow_precision, "bow_recall": s.bow_recall,
            "bow_f1": s.bow_f1, "chars": s.chars, "words": s.words}


def run_text(args) -> int:
    from htr.evaluate import TextScore
    from htr.evaluation import document_pairs, score_documents

    pairs, unmatched = document_pairs(Path(args.pred), Path(args.gt))
    rows = score_documents(pairs, case=args.ignore_case, punctuation=args.ignore_punctuation)
    total = sum((score for _, score, _ in rows), TextScore())
    if args.json:
        report = {"pages": [{"name": n, "missing": m, **_text_figures(s)} for n, s, m in rows],
                  "total": {"pages": len(rows), **_text_figures(total)}, "unmatched_predictions": unmatched}
        print(json.dumps(report, indent=1))
    else:
        width = max(12, *(len(n) for n, _, _ in rows))
        columns = [CER, WER, BOW_F1, ("chars", "chars", ">7", "d")]
        print(f"{'page':<{width}}  {header(columns)}")
        for name, s, missing in rows:
            print(f"{name:<{width}}  {row(_text_figures(s), columns)}{'  (no prediction)' if missing else ''}")
        print(f"{f'total ({len(rows)} pages)':<{width}}  {row(_text_figures(total), columns)}")
    for name in unmatched:
        print(f"htr: warning: prediction {name!r} has no ground truth; ignored", file=sys.stderr)
    missing = sum(m for _, _, m in rows)
    if missing:
        print(f"htr: warning: {missing} ground-truth pages have no prediction (scored as empty)", file=sys.stderr)
    return 0


def run_detect(args) -> int:
    """Line (or word) precision, recall and F1 at an IoU, and seconds per page, per folder and system."""
    from tqdm import tqdm

    from htr.evaluate import DetectionScore
    from htr.evaluation import detection_pages, polygon_finder, score_detection
    from htr.peers import chosen_systems

    pairs = detection_pages(folders_of(args.gt, "not a folder"), args.split, args.limit)
    if not pairs:
        raise HTRError(f"{', '.join(args.gt)}: no page images with ground-truth XML beside them")
    systems = chosen_systems(args.system)
    finders = {name: polygon_finder(name, args.kind, args.weights, args.threads or None, runtime=args.runtime,
                                    precision=args.precision) for name in systems}
    report = []  # (folder, pages, {system: score}, {system: [seconds per page]}, {system: [pages found empty]})
    bar = tqdm(total=sum(map(len, pairs.values())), unit="page", file=sys.stderr, disable=not sys.stderr.isatty())
    for folder, items in pairs.items():
        report.append((folder, len(items), *score_detection(items, finders, args.kind, args.iou, bar.update)))
    bar.close()
    pages = sum(r[1] for r in report)
    report.append(("total", pages, {name: sum((r[2][name] for r in report), DetectionScore()) for name in systems},
                   {name: [t for r in report for t in r[3][name]] for name in systems},
                   {name: [p for r in report for p in r[4][name]] for name in systems}))
    every = [{name: {"precision": s[name].precision, "recall": s[name].recall, "f1": s[name].f1, "tp": s[name].tp,
                     "fp": s[name].fp, "fn": s[name].fn, "empty_pages": len(e[name]),
                     "median_seconds": median(t[name])} for name in systems}
             for _, _, s, t, e in report]
    if args.json:  # the first system's figures at the top, as when htr was the only system
        entries = [{**rounded(e[systems[0]]), "systems": {n: rounded(f) for n, f in e.items()}} for e in every]
        print(json.dumps({"kind": args.kind, "iou": args.iou, "median_seconds": entries[-1]["median_seconds"],
                          "folders": [{"folder": r[0], "pages": r[1], **e, "empty": r[4][systems[0]]}
                                      for r, e in zip(report[:-1], entries)],
                          "total": {"pages": pages, **entries[-1]}}, indent=1))
        return 0
    columns = [folder_column(max(12, *(len(r[0]) for r in report[:-1]))), SYSTEM, ("pages", "pages", ">5", "d"),
               ("precision", "P", ">7", ".4f"), ("recall", "R", ">7", ".4f"), ("f1", "F1", ">7", ".4f"),
               ("empty_pages", "empty", ">5", "d"), ("median_seconds", "s/page", ">7", ".3f")]
    print(header(columns, f"   ({args.kind}s at IoU {args.iou}; empty: pages with ground truth and no {args.kind} "
                          "found; s/page: median)"))
    for r, figures in zip(report, every):
        print(system_rows(r[0], figures, columns, {"pages": r[1]}))
    return 0


def _line_figures(scores: dict, seconds: dict[str, float], lines: int) -> dict[str, dict]:
    """Every system's figures on a folder (or the total): CER, WER, lines/s and CER as a multiple of htr's."""
    htr_cer = scores["htr"].cer if "htr" in scores else 0.0
    return {name: {"cer": s.cer, "wer": s.wer, "chars": s.chars, "words": s.words,
                   "lines_per_second": lines / seconds[name] if seconds[name] else None,
                   "x_htr": ratio(s.cer, htr_cer)} for name, s in scores.items()}


def _line_entry(figures: dict[str, dict], lines: int) -> dict:
    """One folder's (or the total's) JSON: the first system's scores at the top, as when htr was the only
    system, and every system's under "systems"."""
    first = next(iter(figures.values()))
    return {**rounded({k: first[k] for k in ("cer", "wer", "chars", "words")}), "lines": lines,
            "systems": {name: rounded(f) for name, f in figures.items()}}


def run_lines(args) -> int:
    """Crop every ground-truth line, recognise the crops with each system, and print CER/WER per folder and
    in total, one row per system, with its CER as a multiple of htr's and its lines per second (time spent
    recognising only); with --calibration, the reliability of htr's confidences (``htr.calibration``)."""
    from htr import peers
    from htr.calibration import confidence_tables, diagram
    from htr.data.lines import labelled_inputs
    from htr.evaluate import TextScore
    from htr.evaluation import line_reader, score_lines

    systems = peers.chosen_systems(args.system)
    rec = recognizer(args) if "htr" in systems else None
    kept, truths = ([], []) if args.calibration and rec is not None else (None, None)  # htr's readings, truths
    read = {name: line_reader(name, rec, kept) for name in systems}
    folders = folders_of(args.gt_dirs)
    inputs = list(labelled_inputs(folders, rec.height if rec is not None else 40, args.limit, args.split))
    columns = [folder_column(max([6, *(len(label) for label, _ in inputs)])), SYSTEM,
               ("lines", "lines", ">6", "d"), CER, WER, X_HTR, ("lines_per_second", "lines/s", ">8", ".1f")]
    if not args.json:
        print(header(columns))
    report, parts, calibration = {}, [], {}
    for folder, docs in inputs:
        start = len(truths) if truths is not None else 0
        scores, seconds, n, n_docs = score_lines(docs, read, args.ignore_case, args.ignore_punctuation, truths)
        parts.append((scores, seconds, n))
        figures = _line_figures(scores, seconds, n)
        report[folder] = {**_line_entry(figures, n), "documents": n_docs}
        if truths is not None:
            calibration[folder] = confidence_tables(kept[start:], truths[start:])
            report[folder]["calibration"] = _calibration_entry(calibration[folder])
        if not args.json:
            print(system_rows(folder, figures, columns, {"lines": n}), flush=True)
    lines = sum(p[2] for p in parts)
    total = _line_figures({name: sum((p[0][name] for p in parts), TextScore()) for name in systems},
                          {name: sum(p[1][name] for p in parts) for name in systems}, lines)
    if truths is not None and len(report) > 1:
        calibration["total"] = confidence_tables(kept, truths)
    if args.json:
        entry = _line_entry(total, lines)
        if "total" in calibration:
            entry["calibration"] = _calibration_entry(calibration["total"])
        print(json.dumps({"folders": report, "total": entry}, indent=1))
    elif len(report) > 1:
        print(system_rows("total", total, columns, {"lines": lines}))
    if not args.json:
        for folder, tables in calibration.items():
            print(f"\nconfidences, {folder}:\n{_calibration_text(tables)}")
    if calibration and args.calibration_plot:
        import cv2

        tables = calibration.get("total") or next(iter(calibration.values()))
        count = {kind: sum(b.count for b in tables[kind]) for kind in ("words", "lines")}
        cv2.imwrite(args.calibration_plot, diagram(
            {f"{count[kind]} {kind}": {"raw score": tables[f"raw {kind}"], "calibrated": tables[kind]}
             for kind in ("words", "lines")}))
    return 0


def _calibration_entry(tables: dict) -> dict:
    """A folder's confidence tables in JSON: the calibrated ones, and the raw scores' ECE."""
    from htr.calibration import ece, table_dict

    return {"words": table_dict(tables["words"]), "lines": table_dict(tables["lines"]),
            "raw_words_ece": round(ece(tables["raw words"]), 4),
            "raw_lines_ece": round(ece(tables["raw lines"]), 4)}


def _calibration_text(tables: dict) -> str:
    """Word and line reliability tables side by side, then the raw scores' ECE."""
    from htr.calibration import ece, format_table

    rows = zip(format_table(tables["words"], "word").splitlines(),
               format_table(tables["lines"], "line").splitlines())
    return "\n".join(f"{a}    {b}" for a, b in rows) + (
        f"\n(raw scores: ECE {ece(tables['raw words']):.3f} words, {ece(tables['raw lines']):.3f} lines)")


def _page_figures(rows: list, k: int) -> dict:
    """Row ``k``'s figures, its CER as a multiple of htr's in the same folder among ``rows``."""
    folder, system, score, seconds, order = rows[k]
    htr_cer = next((r[2].cer for r in rows if r[0] == folder and r[1] == "htr"), 0.0)
    orders = {"order": order.order, "moved": order.moved, "cer_lost": order.cer_lost} if order else {}
    return {"folder": folder, "system": system, "cer": score.cer, "wer": score.wer, "bow_f1": score.bow_f1,
            "x_htr": ratio(score.cer, htr_cer), "pages": len(seconds), "median_seconds": median(seconds),
            **orders}


def run_pages(args) -> int:
    """Read every ground-truth page with each system; page CER in reading order, bag-of-words F1 and
    seconds per page, per folder and in total."""
    from htr import peers
    from htr.evaluate import TextScore
    from htr.evaluation import page_reader, page_sets, score_pages
    from htr.reading_order import OrderScore

    systems = peers.chosen_systems(args.system)
    folders = list(page_sets(folders_of(args.gt_dirs), args.split, args.limit).items())
    if not folders:
        raise HTRError(f"{', '.join(args.gt_dirs)}: no page images with ground-truth XML beside them")
    htr_reader = reader(args) if "htr" in systems else None
    columns = [folder_column(max(6, *(len(str(f)) for f, _ in folders))), SYSTEM, ("pages", "pages", ">5", "d"),
               CER, WER, BOW_F1, X_HTR, ("median_seconds", "s/page", ">7", ".2f"), ("order", "order", ">6", ".4f"),
               ("moved", "moved", ">6", ".4f"), ("cer_lost", "CER-ord", ">7", ".4f")]
    rows = []  # (folder, system, score, seconds per page, reading-order score or None)

    def add(*new_row) -> None:
        rows.append(new_row)
        if not args.json:  # the folder named on its first system's row only
            first = next(r for r in rows if r[0] == new_row[0])[1] == new_row[1]
            print(row({**_page_figures(rows, len(rows) - 1), "folder": new_row[0] if first else ""}, columns),
                  flush=True)

    if not args.json:
        print(header(columns, "   (s/page: median; order: share of line pairs in the ground truth's order, moved: "
                              "share of lines out of place, CER-ord: CER lost to the order)"))
    read = {system: page_reader(system, htr_reader, args.gt_lines) for system in systems}
    for folder, pairs in folders:
        for system in systems:
            add(str(folder), system, *score_pages(pairs, read[system], args.ignore_case, args.ignore_punctuation))
    if len(folders) > 1:
        for system in systems:
            mine = [r for r in rows if r[1] == system]
            orders = [r[4] for r in mine]
            add("total", system, sum((r[2] for r in mine), TextScore()), [t for r in mine for t in r[3]],
                None if None in orders else sum(orders, OrderScore()))
    if args.json:
        print(json.dumps({"rows": [rounded(_page_figures(rows, k)) for k in range(len(rows))]}, indent=1))
    return 0
