"""`htr train det | rec | lm | calibrate`: the trainers (``htr.train``), each with its own options (`htr train rec --help`)."""
from __future__ import annotations

import argparse
import importlib
import re
import textwrap

TRAINERS = {  # name: (module, help)
    "det": ("htr.train.det", "train the text detector"),
    "lm": ("htr.train.lm", "build the character language model"),
    "rec": ("htr.train.rec", "train the line recogniser"),
    "calibrate": ("htr.train.calibrate", "fit the recogniser's confidences to held-out lines"),
}


def plain_text(doc: str) -> str:
    """A trainer's docstring (reStructuredText) as help text: ``code`` as `code`, a literal block's ``::`` as
    ``:``."""
    return re.sub(r"::\n", ":\n", doc.replace("``", "`")).strip()


class DocstringFormatter(argparse.HelpFormatter):
    """Help whose description keeps its paragraphs and indented examples; each paragraph rewrapped."""

    def _fill_text(self, text, width, indent):
        paragraphs = []
        for block in text.split("\n\n"):
            if block.startswith(" "):  # an example: its lines as they are
                paragraphs.append("\n".join(indent + line for line in block.splitlines()))
            else:
                paragraphs.append(textwrap.fill(" ".join(block.split()), width, initial_indent=indent,
                                                subsequent_indent=indent))
        return "\n\n".join(paragraphs)


class TrainerParser(argparse.ArgumentParser):
    """A trainer's parser, filled in by its module's ``configure_parser`` when it is used: the trainers import
    torch, which no other command should wait for."""

    def __init__(self, *args, module: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.module = module

    def parse_known_args(self, args=None, namespace=None):
        if self.module:
            trainer = importlib.import_module(self.module)
            self.module = ""
            self.description = plain_text(trainer.__doc__ or "")
            self.formatter_class = DocstringFormatter
            trainer.configure_parser(self)
            self.set_defaults(func=trainer.run)
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:  # said by the trainer's parser, with its usage, as when it parsed the command line alone
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, []


def register(commands) -> None:
    train = commands.add_parser("train", help="train the detector or the recognizer",
                                description="Train a model: `htr train det --help`, `htr train rec --help`, "
                                            "`htr train lm --help`, `htr train calibrate --help`.")
    sub = train.add_subparsers(dest="trainer", metavar="MODEL", required=True, parser_class=TrainerParser)
    for name, (module, summary) in TRAINERS.items():
        sub.add_parser(name, help=summary, module=module)
