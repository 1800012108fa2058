"""`htr inspect FILE...`: can htr read these images and documents? Their size and contents, or one error line."""
from __future__ import annotations

import sys
from pathlib import Path

from htr.cli.options import add_max_pixels
from htr.errors import HTRError, plural
from htr.formats import read_document
from htr.imageio import IMAGE_SUFFIXES, load_image

SUFFIXES = (*IMAGE_SUFFIXES, ".gif")  # images inspect decodes; anything else is read as a document


def register(commands) -> None:
    p = commands.add_parser(
        "inspect", help="check that images and documents can be read, and summarise them",
        description="Read each file as htr would (images fully decoded, EXIF orientation applied; documents "
                    "parsed) and print its size and contents, or one error line per unreadable file. Exits 1 if "
                    "any file cannot be read: a quick check of a folder before a long batch run.")
    p.add_argument("files", nargs="+", help="image or document files")
    add_max_pixels(p)
    p.set_defaults(func=run)


def describe(path: Path) -> str:
    if path.suffix.lower() in SUFFIXES:
        image = load_image(path)
        return f"image {image.shape[1]}x{image.shape[0]}"
    page = read_document(path)
    words = sum(1 for _ in page.words())
    return (f"document {page.width}x{page.height}, {plural(len(page.blocks), 'block')}, "
            f"{plural(len(page.lines), 'line')}, {plural(words, 'word')}, {plural(len(page.text), 'character')}")


def run(args) -> int:
    failures = 0
    for name in args.files:
        try:
            print(f"{name}: {describe(Path(name))}")
        except HTRError as err:
            failures += 1
            print(f"htr: error: {err}", file=sys.stderr)
    return 1 if failures else 0
