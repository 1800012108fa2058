"""Calibrating the recogniser's confidences: ``htr train calibrate`` (``htr.calibration``).

Reads the lines of ``--data`` with the recogniser of ``--weights`` and the default decoding (the beam search with
the language model, as ``htr page`` reads), fits what turns its raw scores into the probability that a word is
read exactly right and that a line has no error, and writes the weights file again with it (``--out``; the same
path updates it in place). Fit on lines the recogniser never trained on: the dev split of a compiled corpus
(``--split dev``, the default), leaving out (``--exclude``) the sources the calibration is to be measured on.
A recogniser trained again must be calibrated again.

It first prints how well calibrated the confidences are on those lines, cross-fitted: the documents in
``--folds`` folds (alternating, within each folder or source), each fold's lines given the mapping fitted on the
others; and the raw scores' calibration error beside it. Example::

    htr train calibrate --data ~/.cache/htr/corpus64 --exclude hooker,testaments --out htr/weights/rec.pt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from htr.calibration import (Calibration, confidence_tables, ece, fit, format_table, known_words, outcomes,
                             reliability)


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR",
                        help="held-out lines: compiled corpora (a source each), folders of PAGE/ALTO beside page "
                             "images, or of crops listed in labels.tsv or lines.jsonl")
    parser.add_argument("--weights", help="the recogniser's weights (default: the shipped htr/weights/rec.pt)")
    parser.add_argument("--out", "-o", required=True, help="where to write the weights file with its calibration")
    parser.add_argument("--split", default="dev", choices=("dev", "train"),
                        help="the split of a compiled corpus read (default: dev)")
    parser.add_argument("--exclude", default="", help="corpus sources (or folders, by name) left out, "
                                                      "comma-separated")
    parser.add_argument("--limit", type=int, default=0, help="at most this many documents per folder (0: all)")
    parser.add_argument("--folds", type=int, default=2, help="folds by document of the cross-fitted report")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    return parser


def read_lines(recognizer, folders: list[Path], split: str, exclude: set[str], limit: int = 0) -> list[tuple]:
    """(folder or source, document, LineRecognition, true text) for every line of ``folders``."""
    from tqdm import tqdm

    from htr.data.lines import labelled_inputs

    out = []
    for label, documents in labelled_inputs(folders, recognizer.height, limit, split):
        if Path(label).name in exclude:
            continue
        for lines in tqdm(documents, desc=label, unit="part", file=sys.stderr, disable=not sys.stderr.isatty()):
            for line, rec in zip(lines, recognizer.recognize([line.image for line in lines])):
                out.append((label, line.name.split(":")[0], rec, line.text))
    return out


def assign_folds(items: list[tuple], folds: int) -> list[int]:
    """A fold per line: the documents of each folder or source in turn, in sorted order."""
    documents = sorted({(label, doc) for label, doc, _, _ in items})
    index, seen = {}, {}
    for label, doc in documents:
        index[(label, doc)] = seen.get(label, 0) % folds
        seen[label] = seen.get(label, 0) + 1
    return [index[(label, doc)] for label, doc, _, _ in items]


def cross_fitted(items: list[tuple], folds: list[int], words: frozenset[str]) -> tuple[list, list, list, list]:
    """Word confidences, word rights, line confidences and line rights, each fold's from the others' fit."""
    word_conf, word_right, line_conf, line_right = [], [], [], []
    for k in sorted(set(folds)):
        train = [item for item, f in zip(items, folds) if f != k]
        calibration = fit([r for _, _, r, _ in train], [t for _, _, _, t in train], words)
        for (_, _, rec, truth), f in zip(items, folds):
            if f == k:
                probs = calibration.word_probabilities(rec, words)
                hits, right = outcomes(rec, truth)
                word_conf += probs
                word_right += hits
                line_conf.append(calibration.line_probability(rec, probs))
                line_right.append(right)
    return word_conf, word_right, line_conf, line_right


def run(args) -> int:
    import torch

    from htr.data.corpus import is_corpus
    from htr.recognition.recognizer import Recognizer, save_calibration

    if args.threads:
        torch.set_num_threads(args.threads)
    recognizer = Recognizer(args.weights)
    words = known_words(recognizer.char_lm) if recognizer.lm is not None else frozenset()
    exclude = {x.strip() for x in args.exclude.split(",") if x.strip()}
    items = read_lines(recognizer, [Path(d) for d in args.data], args.split, exclude, args.limit)
    if not items:
        print("htr: no lines to calibrate on", file=sys.stderr)
        return 1
    recs, truths = [r for _, _, r, _ in items], [t for _, _, _, t in items]
    raw = confidence_tables(recs, truths)
    folds = assign_folds(items, args.folds)
    if len(set(folds)) > 1:
        word_conf, word_right, line_conf, line_right = cross_fitted(items, folds, words)
        print(f"cross-fitted on {len(set(folds))} folds by document ({len(items)} lines):")
        print(format_table(reliability(word_conf, word_right), "word"))
        print(f"(raw scores: ECE {ece(raw['raw words']):.3f})\n")
        print(format_table(reliability(line_conf, line_right), "line"))
        print(f"(raw scores: ECE {ece(raw['raw lines']):.3f})\n")
    else:
        print("one document per folder: no cross-fitted report", file=sys.stderr)
    labels = ", ".join(sorted({Path(label).name if is_corpus(Path(label).parent) else label  # a corpus's sources
                               for label, _, _, _ in items}))
    split = f", {args.split} split" if any(is_corpus(d) for d in args.data) else ""
    decoding = f"beam {recognizer.beam}" + (", language model" if recognizer.lm is not None else "")
    calibration: Calibration = fit(recs, truths, words, fitted_on=(
        f"{len(items)} lines, {sum(len(r.words) for r in recs)} words ({labels}{split}); {decoding}"))
    save_calibration(args.weights, args.out, calibration)
    print(f"word weights {[round(w, 3) for w in calibration.word]}, line weights "
          f"{[round(w, 3) for w in calibration.line]}\nwritten to {args.out}")
    return 0
