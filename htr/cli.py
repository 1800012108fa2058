"""The `htr` command line: a thin shell over the library. Bad input ends in one line on stderr and exit code 1."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning: on a 2-core machine, spinning doubles torch's time per page.
# Not for `htr train`: the trainers choose their own policy (the recogniser's LSTM trains 1.5x faster without it).
if sys.argv[1:2] != ["train"]:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from htr import __version__
from htr.errors import HTRError, UsageError
from htr.formats import EXTENSIONS, FORMATS, format_for_path, read_document, write_document
from htr.data import command as data_command
from htr.detection import command as detection_command
from htr.recognition import command as recognition_command
from htr import batch as batch_command
from htr import page_command
from htr.synth.command import add_commands as add_synth_commands

DOCUMENT_SUFFIXES = (".xml", ".hocr", ".html", ".htm", ".xhtml", ".txt", ".json")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".jp2", ".gif")


def document_key(path: Path) -> str:
    """A document's name without its format suffixes, to match predictions with ground truth."""
    name = path.name
    lowered = name.lower()
    for suffix in (".page.xml", ".alto.xml", *DOCUMENT_SUFFIXES):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def document_files(folder: Path) -> dict[str, Path]:
    """The documents of a folder (recursive), keyed by document_key; the first of equal keys wins."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name.lower().endswith(DOCUMENT_SUFFIXES):
            found.setdefault(document_key(path), path)
    return found


# ----------------------------------------------------------------------------------------------- convert

def _convert_one(source: Path, target: Path, fmt: str) -> None:
    page = read_document(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = write_document(page, fmt)
    tmp = target.with_name(target.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def cmd_convert(args) -> int:
    source, target = Path(args.input), Path(args.output)
    if not source.exists():
        raise HTRError(f"{source}: no such file or directory")
    if source.is_dir():
        if not args.to:
            raise HTRError("converting a folder needs --to FORMAT")
        files = document_files(source)
        if not files:
            raise HTRError(f"{source}: no PAGE, ALTO, hOCR, JSON or text documents found")
        failures = 0
        for key, path in files.items():
            out = target / path.parent.relative_to(source) / (key + EXTENSIONS[args.to])
            try:
                _convert_one(path, out, args.to)
            except HTRError as err:
                failures += 1
                print(f"htr: {err}", file=sys.stderr)
        print(f"converted {len(files) - failures} of {len(files)} documents to {target}", file=sys.stderr)
        return 1 if failures else 0
    fmt = args.to or format_for_path(target)
    if fmt is None:
        raise HTRError(f"cannot tell the output format from {target.name!r}: give --to "
                       f"({', '.join(FORMATS)}) or name it .page.xml, .alto.xml, .hocr, .txt or .json")
    if str(target) == "-":
        sys.stdout.write(write_document(read_document(source), fmt))
    else:
        _convert_one(source, target, fmt)
    return 0


# ----------------------------------------------------------------------------------------------- inspect

def _describe(path: Path) -> str:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from htr.imageio import load_image

        image = load_image(path)
        return f"image {image.shape[1]}x{image.shape[0]}"
    page = read_document(path)
    words = sum(1 for _ in page.words())
    return (f"document {page.width}x{page.height}, {len(page.blocks)} blocks, {len(page.lines)} lines, "
            f"{words} words, {len(page.text)} characters")


def cmd_inspect(args) -> int:
    failures = 0
    for name in args.files:
        try:
            print(f"{name}: {_describe(Path(name))}")
        except HTRError as err:
            failures += 1
            print(f"htr: error: {err}", file=sys.stderr)
    return 1 if failures else 0


# ----------------------------------------------------------------------------------------------- eval

def _pairs(pred: Path, gt: Path) -> tuple[list[tuple[str, Path | None, Path]], list[str]]:
    """(name, prediction or None, ground truth) for every ground-truth page, and unmatched predictions."""
    for path in (pred, gt):
        if not path.exists():
            raise HTRError(f"{path}: no such file or directory")
    if gt.is_file():
        if pred.is_dir():
            raise HTRError(f"{gt} is a file but {pred} is a folder: give two files or two folders")
        return [(document_key(gt), pred, gt)], []
    if pred.is_file():
        raise HTRError(f"{gt} is a folder but {pred} is a file: give two files or two folders")
    gt_files, pred_files = document_files(gt), document_files(pred)
    if not gt_files:
        raise HTRError(f"{gt}: no ground-truth documents found")
    pairs = [(key, pred_files.get(key), path) for key, path in gt_files.items()]
    return pairs, sorted(set(pred_files) - set(gt_files))


def cmd_eval_text(args) -> int:
    from htr.evaluate import TextScore, score_text

    pairs, unmatched = _pairs(Path(args.pred), Path(args.gt))
    rows, total = [], TextScore()
    for name, pred_path, gt_path in pairs:
        gt_text = read_document(gt_path).text
        pred_text = read_document(pred_path).text if pred_path else ""
        score = score_text(pred_text, gt_text, case=args.ignore_case, punctuation=args.ignore_punctuation)
        total = total + score
        rows.append((name, score, pred_path is None))
    if args.json:
        def figures(s):
            return {"cer": s.cer, "wer": s.wer, "bow_precision": s.bow_precision, "bow_recall": s.bow_recall,
                    "bow_f1": s.bow_f1, "chars": s.chars, "words": s.words}
        report = {"pages": [{"name": n, "missing": m, **figures(s)} for n, s, m in rows],
                  "total": {"pages": len(rows), **figures(total)}, "unmatched_predictions": unmatched}
        print(json.dumps(report, indent=1))
    else:
        width = max(12, *(len(n) for n, _, _ in rows))
        print(f"{'page':<{width}}  {'CER':>7} {'WER':>7} {'BoW-F1':>7} {'chars':>7}")
        for name, s, missing in rows:
            note = "  (no prediction)" if missing else ""
            print(f"{name:<{width}}  {s.cer:7.4f} {s.wer:7.4f} {s.bow_f1:7.4f} {s.chars:7d}{note}")
        print(f"{'total (' + str(len(rows)) + ' pages)':<{width}}  {total.cer:7.4f} {total.wer:7.4f} "
              f"{total.bow_f1:7.4f} {total.chars:7d}")
    for name in unmatched:
        print(f"htr: warning: prediction {name!r} has no ground truth; ignored", file=sys.stderr)
    missing = sum(m for _, _, m in rows)
    if missing:
        print(f"htr: warning: {missing} ground-truth pages have no prediction (scored as empty)", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------------- train

TRAINERS = {"det": "htr.train.det", "lm": "htr.train.lm", "rec": "htr.train.rec"}


def cmd_train(args) -> int:
    """Hand the arguments to the trainer's own parser (it imports torch, so only when training)."""
    module = importlib.import_module(TRAINERS[args.model])
    parser = argparse.ArgumentParser(prog=f"htr train {args.model}", description=module.__doc__)
    module.configure_parser(parser)
    return module.run(parser.parse_args(args.options))


# ----------------------------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="htr", description="Handwriting-first document OCR: pages in, text in reading order out.",
        epilog="Run 'htr COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"htr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    convert = commands.add_parser(
        "convert", help="convert a page between PAGE-XML, ALTO, hOCR, text and JSON",
        description="Convert a document (PAGE-XML 2013/2019, ALTO v2-v4, hOCR or htr JSON; the input format is "
                    "read from the content) to another format. The output format comes from --to or from the "
                    "output name (.page.xml, .alto.xml, .hocr, .txt, .json). A folder converts every document in "
                    "it (recursively) into an output folder; --to is then required.")
    convert.add_argument("input", help="input document or folder")
    convert.add_argument("output", help="output file ('-' for stdout) or folder")
    convert.add_argument("--to", choices=FORMATS, help="output format")
    convert.set_defaults(func=cmd_convert)

    inspect = commands.add_parser(
        "inspect", help="check that images and documents can be read, and summarise them",
        description="Read each file as htr would (images fully decoded, EXIF orientation applied; documents "
                    "parsed) and print its size and contents, or one error line per unreadable file. Exits 1 if "
                    "any file cannot be read: a quick check of a folder before a long batch run.")
    inspect.add_argument("files", nargs="+", help="image or document files")
    inspect.set_defaults(func=cmd_inspect)

    evaluate = commands.add_parser("eval", help="score OCR output against ground truth",
                                   description="Score OCR output against ground truth.")
    eval_commands = evaluate.add_subparsers(dest="eval_command", metavar="WHAT", required=True)
    text = eval_commands.add_parser(
        "text", help="CER, WER and bag-of-words F1 of page texts",
        description="Character and word error rates (edit distance over the ground truth's length, whitespace "
                    "normalised) and order-free bag-of-words precision/recall/F1 of predicted page texts. PRED "
                    "and GT are two files, or two folders of PAGE/ALTO/hOCR/JSON/txt documents matched by name. "
                    "Totals are micro-averages over all pages.")
    text.add_argument("pred", help="predicted document or folder")
    text.add_argument("gt", help="ground-truth document or folder")
    text.add_argument("--ignore-case", action="store_true", help="compare case-insensitively")
    text.add_argument("--ignore-punctuation", action="store_true", help="drop punctuation before comparing")
    text.add_argument("--json", action="store_true", help="print a JSON report")
    text.set_defaults(func=cmd_eval_text)

    model_commands = [  # (subparsers, name, help, description, configure, run)
        (commands, "detect", "find text lines and words on a page image",
         "Detect text lines and words on a page image; write them as PAGE-XML or JSON and draw them.",
         detection_command.configure_detect, detection_command.run_detect),
        (eval_commands, "detect", "precision, recall and F1 of detected line polygons",
         "Detect the lines of every page image in a folder with ground-truth PAGE/ALTO beside it, and score "
         "them: one-to-one matching at an IoU threshold, per folder and in total.",
         detection_command.configure_eval_detect, detection_command.run_eval_detect),
        (commands, "recognize", "read the text of line images",
         "Recognise the text of line images (one text line per image, cropped).",
         recognition_command.configure_recognize, recognition_command.run_recognize),
        (eval_commands, "lines", "CER and WER of recognised ground-truth lines",
         "Crop every ground-truth line of a folder of page images with PAGE/ALTO beside them, recognise it, "
         "and print CER and WER per folder and in total.",
         recognition_command.configure_eval_lines, recognition_command.run_eval_lines),
        (commands, "page", "read a page image: text, hOCR, ALTO, PAGE-XML or JSON",
         "Read a page image: detect its lines, recognise them and put them in reading order; print or write the "
         "result as plain text, hOCR, ALTO, PAGE-XML or JSON, with a polygon and a confidence for every line and "
         "word.", page_command.configure_page, page_command.run_page),
        (eval_commands, "pages", "page CER and bag-of-words F1 of the full pipeline",
         "Read every page image of folders with ground-truth PAGE/ALTO beside them with the full pipeline (and "
         "with other engines, --system) and score the page text in reading order: CER, WER, bag-of-words F1 "
         "and seconds per page, per folder and in total.",
         page_command.configure_eval_pages, page_command.run_eval_pages),
        (commands, "batch", "read a folder of page images, TIFFs and PDFs into documents (resumable)",
         None, batch_command.configure_parser, batch_command.run),  # its parser sets its own description
    ]
    for subparsers, name, summary, description, configure, run in model_commands:
        configure(subparsers.add_parser(name, help=summary, description=description)).set_defaults(func=run)

    data = commands.add_parser("data", help="compile ground truth into a training corpus; its statistics",
                               description="Training data: `htr data compile --help`, `htr data stats --help`.")
    data_commands = data.add_subparsers(dest="data_command", metavar="WHAT", required=True)
    data_commands.add_parser(
        "compile", help="compile PAGE/ALTO folders and line crops into a corpus, with a report",
        description="Crop every transcribed line of PAGE-XML/ALTO pages (and line-crop folders) once, at the "
                    "recogniser's height, into a memory-mapped corpus; index the pages for the detector; split by "
                    "document; report what was compiled and every line or page left out, with the reason. "
                    "Unchanged sources are not compiled again. Exit 0 when the corpus has lines, 1 when nothing "
                    "could be compiled, 2 on bad arguments.")
    data_command.configure_compile(data_commands.choices["compile"]).set_defaults(func=data_command.run_compile)
    stats = data_commands.add_parser("stats", help="the report of a compiled corpus",
                                     description="Pages, lines and characters per source and split, the charset, "
                                                 "and what was left out, of a compiled corpus.")
    data_command.configure_stats(stats).set_defaults(func=data_command.run_stats)

    train = commands.add_parser("train", help="train the detector or the recognizer",
                                description="Train a model: `htr train det --help`, `htr train rec --help`.")
    train.add_argument("model", choices=sorted(TRAINERS), help="det (detector) or rec (recognizer)")
    train.add_argument("options", nargs=argparse.REMAINDER, help="the trainer's options (see its --help)")
    train.set_defaults(func=cmd_train)

    add_synth_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except UsageError as err:
        print(f"htr: error: {err}", file=sys.stderr)
        return 2
    except HTRError as err:
        print(f"htr: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("htr: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
