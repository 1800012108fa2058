"""The options several commands share, each defined once, and the objects built from them."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from htr.errors import HTRError, ResourceError, UsageError
from htr.options import ReaderOptions
from htr.paths import DEFAULT_LM, MODELS, weights_path
from htr.peers import CHOICES
from htr.recognition.decode import DEFAULT_BEAM, DEFAULT_LANGS
from htr.recognition.lm import AUTO
from htr.runtime import DEFAULT_PRECISION, DEFAULT_RUNTIME, PRECISIONS, RUNTIMES

WEIGHTS_HELP = {kind: f"{name} weights (default: the shipped htr/weights/{kind}.pt)" for kind, name in MODELS.items()}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def add_weights(p: argparse.ArgumentParser, kind: str) -> None:
    """--weights: the one model a command uses (kind: det or rec)."""
    p.add_argument("--weights", help=WEIGHTS_HELP[kind])


def add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")


def add_runtime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runtime", choices=RUNTIMES, default=DEFAULT_RUNTIME,
                   help="what runs the models: torch, or onnx (ONNX Runtime; the models are exported on first "
                        f"use and cached in $HTR_CACHE/onnx or ~/.cache/htr/onnx) (default: {DEFAULT_RUNTIME})")
    p.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                   help="the models' arithmetic with --runtime torch: bf16 where the CPU computes it "
                        "natively (AMX, AVX512-BF16), else fp32 (auto, the default); fp32 gives the same result on "
                        "every CPU")


def add_decoding_options(p: argparse.ArgumentParser) -> None:
    """--beam, --lm and --lang, shared by every command that recognises text."""
    p.add_argument("--beam", type=int, default=DEFAULT_BEAM,
                   help=f"CTC beam width; 0 for greedy decoding, no language model (default: {DEFAULT_BEAM})")
    p.add_argument("--lm", default=str(DEFAULT_LM),
                   help="character language model for the beam search, from `htr train lm`; 'none' for none "
                        "(default: the shipped htr/weights/lm.json.gz)")
    p.add_argument("--lang", default="auto",
                   help="languages whose word lists the beam search favours: 'auto' (the default), each page's own, "
                        "chosen from a first (greedy) reading of its lines among those the language model holds "
                        f"(the shipped one: en fr de es it nl pt cs), or {','.join(DEFAULT_LANGS)} when none is "
                        "clear; comma-separated codes; or 'none'")


def add_pipeline_weights(p: argparse.ArgumentParser) -> None:
    """--det-weights, --rec-weights and the decoding options: the models of the whole pipeline."""
    p.add_argument("--det-weights", help=WEIGHTS_HELP["det"])
    p.add_argument("--rec-weights", help=WEIGHTS_HELP["rec"])
    add_decoding_options(p)


def add_reader_options(p: argparse.ArgumentParser, threads_help: str | None = None) -> None:
    """What ``reader_options(args)`` takes, a flag per field of ``htr.options.ReaderOptions``: the pipeline's
    weights and decoding, --threads, --runtime, --precision, --batch-size and --no-orient."""
    add_pipeline_weights(p)
    p.add_argument("--threads", type=int, default=0,
                   help=threads_help or "torch CPU threads (default: torch's choice)")
    add_runtime(p)
    add_batch_size(p)
    p.add_argument("--no-orient", dest="orient", action="store_false",
                   help="do not look for pages turned by 90, 180 or 270 degrees")
    add_max_pixels(p)


def add_max_pixels(p: argparse.ArgumentParser) -> None:
    """--max-pixels: the largest image read (``htr.cli.main`` applies it, for this process and its workers)."""
    from htr.imageio import MAX_PIXELS

    p.add_argument("--max-pixels", type=positive_int, metavar="N",
                   help=f"read images of up to N pixels (default: $HTR_MAX_PIXELS or {MAX_PIXELS:,}; larger ones "
                        "are refused from their header, before they take memory)")


def add_batch_size(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=positive_int, default=ReaderOptions.batch_size, metavar="N",
                   help=f"text lines recognised per forward pass (default: {ReaderOptions.batch_size})")


def add_scoring_options(p: argparse.ArgumentParser, json_help: str = "print a JSON report") -> None:
    """--ignore-case, --ignore-punctuation and --json, of the commands that score text."""
    p.add_argument("--ignore-case", action="store_true", help="compare case-insensitively")
    p.add_argument("--ignore-punctuation", action="store_true", help="drop punctuation before comparing")
    add_json(p, json_help)


def add_json(p: argparse.ArgumentParser, help: str = "print a JSON report") -> None:
    p.add_argument("--json", action="store_true", help=help)


def add_limit(p: argparse.ArgumentParser, what: str = "pages") -> None:
    p.add_argument("--limit", type=int, default=0, help=f"at most this many {what} per folder (0: all)")


def add_system_option(p: argparse.ArgumentParser) -> None:
    """The evaluation commands' ``--system``: repeatable or comma-separated, default htr."""
    p.add_argument("--system", action="append", metavar="NAME",
                   help=f"system(s) to score: {', '.join(CHOICES)}; repeat or comma-separate (default: htr)")


def lm_path(args) -> Path | None:
    """The --lm option as Recognizer takes it: None for 'none', the shipped model for the default."""
    return None if args.lm.lower() == "none" else Path(args.lm)


def lang_codes(args) -> tuple[str, ...] | None:
    """The --lang option as Recognizer takes it: a tuple of codes, () for 'none', None for 'auto' or not given."""
    value = (getattr(args, "lang", None) or "").strip().lower()
    if not value or value == AUTO:
        return None
    return () if value == "none" else tuple(c.strip() for c in value.split(",") if c.strip())


def reader_options(args) -> ReaderOptions:
    """The ``ReaderOptions`` of add_reader_options' options."""
    return ReaderOptions(det_weights=args.det_weights, rec_weights=args.rec_weights, beam=args.beam,
                         lm=lm_path(args), lang=lang_codes(args), orient=args.orient, batch_size=args.batch_size,
                         threads=args.threads or None, runtime=args.runtime, precision=args.precision)


def reader(args):
    """The pipeline's Reader, from add_reader_options' options."""
    from htr.pipeline import Reader

    return Reader(reader_options(args))


def add_recognizer_options(p: argparse.ArgumentParser) -> None:
    """What ``recognizer(args)`` takes: --weights, the decoding options, --runtime and --batch-size."""
    add_weights(p, "rec")
    add_decoding_options(p)
    add_runtime(p)
    add_batch_size(p)


def recognizer(args):
    """The Recognizer of add_recognizer_options' options; ResourceError when its weights cannot be loaded."""
    from htr.recognition.recognizer import Recognizer

    path = weights_path(args.weights, "rec")
    try:
        return Recognizer(path, beam=args.beam, lm=lm_path(args), batch_size=args.batch_size, lang=lang_codes(args),
                          runtime=args.runtime, precision=args.precision)
    except HTRError:  # weights not found, bad arguments: reported as they are
        raise
    except Exception as err:
        raise ResourceError(f"{path}: cannot load recogniser weights ({type(err).__name__}: {err})") from err


def check_stdout(binary: bool) -> None:
    """UsageError where a binary document (a PDF) would go to stdout and stdout is a terminal."""
    if binary and sys.stdout.isatty():
        raise UsageError("not writing a binary document (PDF) to the terminal: give -o FILE or redirect stdout")


def write_stdout(document: str | bytes) -> None:
    """A document on stdout: bytes as they are (a binary format; not to a terminal), text as text."""
    if isinstance(document, bytes):
        check_stdout(True)
        sys.stdout.flush()
        sys.stdout.buffer.write(document)
    else:
        sys.stdout.write(document)
