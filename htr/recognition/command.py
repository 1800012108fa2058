"""Command-line entry points of the recogniser, for the CLI to wire in:
``htr recognize LINE.png`` and ``htr eval lines GT_DIR``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from htr.errors import HTRError, ResourceError
from htr.evaluate import TextScore, score_text
from htr.imageio import load_image
from htr.recognition.lines import document_lines, gt_documents


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", help="recogniser weights (default: weights/rec.pt)")
    parser.add_argument("--beam", type=int, default=0, help="beam width; 0 for greedy decoding (default: 0)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print JSON")


def _recognizer(args):
    from htr.recognition.recognizer import DEFAULT_WEIGHTS, Recognizer

    path = Path(args.weights or DEFAULT_WEIGHTS)
    if not path.is_file():
        raise ResourceError(f"{path}: recogniser weights not found")
    try:
        return Recognizer(path, beam=args.beam, batch_size=args.batch_size)
    except Exception as err:
        raise ResourceError(f"{path}: cannot load recogniser weights ({type(err).__name__}: {err})") from err


def configure_recognize(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("images", nargs="+", help="line images (one text line each, any height)")
    _add_common(parser)
    return parser


def run_recognize(args) -> int:
    """Print each line image's text (prefixed with its file name when there are several)."""
    rec = _recognizer(args)
    images = [load_image(path) for path in args.images]
    results = rec.recognize(images)
    if args.json:
        out = [{"file": str(p), **r.to_dict()} for p, r in zip(args.images, results)]
        print(json.dumps(out[0] if len(out) == 1 else out, ensure_ascii=False, indent=1))
    else:
        for path, r in zip(args.images, results):
            print(r.text if len(args.images) == 1 else f"{path}\t{r.text}")
    return 0


def configure_eval_lines(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("gt_dirs", nargs="+", help="folders of PAGE-XML/ALTO ground truth beside their page images")
    parser.add_argument("--ignore-case", action="store_true", help="compare case-insensitively")
    parser.add_argument("--ignore-punctuation", action="store_true", help="drop punctuation before comparing")
    parser.add_argument("--limit", type=int, default=0, help="at most this many documents per folder (0: all)")
    _add_common(parser)
    return parser


def _scores(score: TextScore) -> dict:
    return {"cer": round(score.cer, 4), "wer": round(score.wer, 4), "chars": score.chars, "words": score.words}


def run_eval_lines(args) -> int:
    """Crop every ground-truth line, recognise it, and print CER/WER per folder and in total."""
    rec = _recognizer(args)
    report, total, lines_total = {}, TextScore(), 0
    for folder in map(Path, args.gt_dirs):
        if not folder.is_dir():
            raise HTRError(f"{folder}: no such folder")
        docs = gt_documents(folder)[: args.limit or None]
        if not docs:
            raise HTRError(f"{folder}: no PAGE-XML or ALTO documents found")
        score, n = TextScore(), 0
        for xml in docs:
            try:
                lines = document_lines(xml, rec.height)
            except FileNotFoundError as err:
                raise HTRError(str(err)) from err
            for line, r in zip(lines, rec.recognize([line.image for line in lines])):
                score += score_text(r.text, line.text, case=args.ignore_case, punctuation=args.ignore_punctuation)
            n += len(lines)
        report[str(folder)] = {**_scores(score), "lines": n, "documents": len(docs)}
        total, lines_total = total + score, lines_total + n
        if not args.json:
            print(f"{folder}: CER {score.cer:.4f}  WER {score.wer:.4f}  ({n} lines, {len(docs)} documents)")
    if args.json:
        print(json.dumps({"folders": report, "total": {**_scores(total), "lines": lines_total}}, indent=1))
    elif len(report) > 1:
        print(f"total: CER {total.cer:.4f}  WER {total.wer:.4f}  ({lines_total} lines)")
    return 0
