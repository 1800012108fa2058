"""The `htr` command line: a thin shell over the library, one module per command, each adding itself with
``register(subparsers)``; the options several commands share are in ``htr.cli.options``. Bad input ends in one
line on stderr and exit code 1, bad arguments in exit code 2. Nothing outside ``htr.cli`` imports it."""
from __future__ import annotations

import argparse
import os
import sys

# Idle OpenMP threads sleep instead of spinning: on a 2-core machine, spinning doubles torch's time per page.
# Not for `htr train`: the trainers choose their own policy (the recogniser's LSTM trains 1.5x faster without it).
if sys.argv[1:2] != ["train"]:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import importlib  # noqa: E402

from htr import __version__  # noqa: E402 (after the thread policy, before anything loads torch)
from htr.errors import HTRError, UsageError  # noqa: E402

# The commands' modules (htr.cli.NAME), in `htr --help` order. Running one imports its module alone: `htr page`
# does not wait for what `htr batch` or `htr eval` import (fsspec, multiprocessing, ...).
COMMANDS = ("convert", "inspect", "eval", "detect", "recognize", "page", "batch", "view", "data", "train", "synth")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``command`` alone (what running it needs)."""
    parser = argparse.ArgumentParser(
        prog="htr", description="Handwriting-first document OCR: pages in, text in reading order out.",
        epilog="Run 'htr COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"htr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (command,) if command in COMMANDS else COMMANDS:
        importlib.import_module(f"htr.cli.{name}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        if getattr(args, "max_pixels", None):
            from htr.imageio import set_max_pixels

            set_max_pixels(args.max_pixels)
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
