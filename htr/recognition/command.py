"""Command-line entry points of the recogniser, for the CLI to wire in:
``htr recognize LINE.png`` and ``htr eval lines GT_DIR``."""
from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np

from htr import peers
from htr.errors import HTRError, ResourceError, UsageError
from htr.evaluate import TextScore, score_text
from htr.imageio import load_image
from htr.paths import DEFAULT_LM
from htr.recognition.decode import DEFAULT_BEAM, DEFAULT_LANGS
from htr.peers import add_system_option, chosen_systems
from htr.recognition.lines import folder_documents


def add_decoding_options(parser: argparse.ArgumentParser) -> None:
    """--beam, --lm and --lang, shared by every command that recognises text."""
    parser.add_argument("--beam", type=int, default=DEFAULT_BEAM,
                        help=f"CTC beam width; 0 for greedy decoding, no language model (default: {DEFAULT_BEAM})")
    parser.add_argument("--lm", default=str(DEFAULT_LM),
                        help="character language model for the beam search, from `htr train lm`; 'none' for none "
                             "(default: the shipped htr/weights/lm.json.gz)")
    parser.add_argument("--lang", help="languages whose word lists the beam search favours: comma-separated codes "
                                       "of those the language model holds (the shipped one: en fr de es it nl pt cs), "
                                       f"or 'none' (default: {','.join(DEFAULT_LANGS)}, those of them it holds)")


def lm_path(args) -> Path | None:
    """The --lm option as Recognizer takes it: None for 'none', the shipped model for the default."""
    return None if args.lm.lower() == "none" else Path(args.lm)


def lang_codes(args) -> tuple[str, ...] | None:
    """The --lang option as Recognizer takes it: a tuple of codes, () for 'none', None when not given."""
    value = (getattr(args, "lang", None) or "").strip().lower()
    if not value:
        return None
    return () if value == "none" else tuple(c.strip() for c in value.split(",") if c.strip())


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", help="recogniser weights (default: the shipped htr/weights/rec.pt)")
    add_decoding_options(parser)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print JSON")


def _recognizer(args):
    from htr.recognition.recognizer import DEFAULT_WEIGHTS, Recognizer

    path = Path(args.weights or DEFAULT_WEIGHTS)
    if not path.is_file():
        raise ResourceError(f"{path}: recogniser weights not found")
    try:
        return Recognizer(path, beam=args.beam, lm=lm_path(args), batch_size=args.batch_size, lang=lang_codes(args))
    except UsageError:
        raise
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
    parser.add_argument("gt_dirs", nargs="+", help="folders of PAGE-XML/ALTO ground truth beside their page images, "
                                                   "or of line/word crops listed in labels.tsv (image, tab, text) or "
                                                   "lines.jsonl (htr synth lines)")
    parser.add_argument("--ignore-case", action="store_true", help="compare case-insensitively")
    parser.add_argument("--ignore-punctuation", action="store_true", help="drop punctuation before comparing")
    parser.add_argument("--limit", type=int, default=0, help="at most this many documents per folder (0: all)")
    parser.add_argument("--split", default="dev", choices=("dev", "train"),
                        help="for a compiled corpus (htr data compile) given as GT_DIR: the split read, a row per "
                             "source (default: dev)")
    add_system_option(parser)
    _add_common(parser)
    return parser


def _scores(score: TextScore) -> dict:
    return {"cer": round(score.cer, 4), "wer": round(score.wer, 4), "chars": score.chars, "words": score.words}


def _figures(scores: dict[str, TextScore], seconds: dict[str, float], lines: int) -> dict:
    """One folder's (or the total's) JSON: the first system's scores at the top, as when htr was the only
    system, and every system's under "systems" with its lines/s and its CER as a multiple of htr's."""
    htr_cer = scores["htr"].cer if "htr" in scores else 0.0
    systems = {name: {**_scores(score),
                      "lines_per_second": round(lines / seconds[name], 2) if seconds[name] else None,
                      "x_htr": round(score.cer / htr_cer, 3) if htr_cer else None}
               for name, score in scores.items()}
    return {**_scores(next(iter(scores.values()))), "lines": lines, "systems": systems}


def _rows(label: str, figures: dict, width: int) -> str:
    """Table rows, one per system, of one folder (or the total)."""
    out = []
    for name, f in figures["systems"].items():
        ratio = "-" if f["x_htr"] is None else f"{f['x_htr']:.2f}"
        speed = "-" if f["lines_per_second"] is None else f"{f['lines_per_second']:.1f}"
        out.append(f"{label:<{width}} {name:<9} {figures['lines']:6d} {f['cer']:7.4f} {f['wer']:7.4f} "
                   f"{ratio:>6} {speed:>8}")
        label = ""
    return "\n".join(out)


def _labelled_inputs(folders: list[Path], height: int, limit: int, split: str):
    """(row label, lists of GTLine) per folder; a compiled corpus gives a row per source of its ``split``."""
    from htr.data.corpus import is_corpus, open_lines, read_manifest

    for folder in folders:
        if not is_corpus(folder):
            yield str(folder), folder_documents(folder, height, limit)
            continue
        for source in sorted(read_manifest(folder)["sources"]):
            lines = open_lines(folder, split, [source])
            if len(lines):
                yield f"{folder}/{source}", _corpus_documents(lines, limit)


def _corpus_documents(lines, limit: int):
    """A compiled selection's lines as GTLine lists of 64 (at most ``limit`` lists; 0: all)."""
    from htr.recognition.lines import GTLine

    starts = range(0, len(lines), 64)[: limit or None]
    for k in starts:
        yield [GTLine(np.asarray(lines.image(i)), lines.texts[i], lines.names[i])
               for i in range(k, min(k + 64, len(lines)))]


def run_eval_lines(args) -> int:
    """Crop every ground-truth line, recognise the crops with each system, and print CER/WER per folder and
    in total, one row per system, with its CER as a multiple of htr's and its lines per second (time spent
    recognising only)."""
    systems = chosen_systems(args.system)
    read = {name: partial(peers.recognize_lines, name) for name in systems if name != "htr"}
    rec = _recognizer(args) if "htr" in systems else None
    if rec is not None:
        read["htr"] = lambda crops: [r.text for r in rec.recognize(crops)]
    folders = list(map(Path, args.gt_dirs))
    for folder in folders:
        if not folder.is_dir():
            raise HTRError(f"{folder}: no such folder")
    inputs = list(_labelled_inputs(folders, rec.height if rec is not None else 40, args.limit, args.split))
    width = max([6, *(len(label) for label, _ in inputs)])
    if not args.json:
        print(f"{'folder':<{width}} {'system':<9} {'lines':>6} {'CER':>7} {'WER':>7} {'x htr':>6} {'lines/s':>8}")
    report, parts = {}, []
    for folder, docs in inputs:
        scores, seconds, n, n_docs = {name: TextScore() for name in systems}, dict.fromkeys(systems, 0.0), 0, 0
        for lines in docs:
            n_docs += 1
            for name in systems:
                start = time.perf_counter()
                texts = read[name]([line.image for line in lines])
                seconds[name] += time.perf_counter() - start
                for line, text in zip(lines, texts):
                    scores[name] += score_text(text, line.text, case=args.ignore_case,
                                               punctuation=args.ignore_punctuation)
            n += len(lines)
        parts.append((scores, seconds, n))
        report[folder] = {**_figures(scores, seconds, n), "documents": n_docs}
        if not args.json:
            print(_rows(folder, report[folder], width), flush=True)
    total = _figures({name: sum((p[0][name] for p in parts), TextScore()) for name in systems},
                     {name: sum(p[1][name] for p in parts) for name in systems}, sum(p[2] for p in parts))
    if args.json:
        print(json.dumps({"folders": report, "total": total}, indent=1))
    elif len(report) > 1:
        print(_rows("total", total, width))
    return 0
