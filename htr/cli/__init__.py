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

from htr import __version__  # noqa: E402 (after the thread policy, before anything loads torch)
from htr.cli import (batch, convert, data, detect, eval as evaluate, inspect, page, recognize,  # noqa: E402
                     synth, train, view)
from htr.errors import HTRError, UsageError  # noqa: E402

# in `htr --help` order
COMMANDS = (convert, inspect, evaluate, detect, recognize, page, batch, view, data, train, synth)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="htr", description="Handwriting-first document OCR: pages in, text in reading order out.",
        epilog="Run 'htr COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"htr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
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
