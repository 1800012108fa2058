"""`htr page SCAN --out FORMAT`: one page image (or a page of a PDF or TIFF) to a document."""
from __future__ import annotations

import sys
from pathlib import Path

from htr.cli.options import add_reader_options, check_stdout, positive_int, reader, write_stdout
from htr.formats import FORMATS, REGISTRY


def register(commands) -> None:
    p = commands.add_parser(
        "page", help="read a page image: text, hOCR, ALTO, PAGE-XML, JSON or searchable PDF",
        description="Read a page image: detect its lines, recognise them and put them in reading order; print or "
                    "write the result as plain text, hOCR, ALTO, PAGE-XML or JSON, with a polygon and a confidence "
                    "for every line and word, or as a searchable PDF (the scan under an invisible text layer).",
        epilog="Exit codes: 0 the page was read (an empty page gives an empty document and a warning), "
               "1 the image, segmentation or weights could not be read, 2 bad arguments, 130 interrupted.")
    p.add_argument("image", help="page image (JPEG, PNG, TIFF, ...) or PDF")
    p.add_argument("--page", type=positive_int, metavar="N",
                   help="the page of a PDF or multi-page TIFF to read, from 1 (default: the first)")
    p.add_argument("--out", choices=FORMATS, default="text",
                   help="output format (default: text; pdf: the scan with an invisible, searchable text layer)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--overlay", help="also write the page with lines (red) and words (green) drawn on it")
    p.add_argument("--lines", help="read the lines of this PAGE/ALTO segmentation instead of detecting them; "
                                   "the output keeps its regions, lines and ids")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="drop lines and words whose confidence is below this (0-1; default 0: keep all)")
    add_reader_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from htr.document import drop_unsure
    from htr.draw import draw_page, save_overlay
    from htr.formats import read_document, save_document, write_document
    from htr.imageio import load_page

    if not args.output:
        check_stdout(REGISTRY[args.out].binary)  # before the page is read
    image = load_page(args.image, args.page)
    lines = read_document(args.lines) if args.lines else None
    page = reader(args).read(image, lines=lines, source=Path(args.image).name)
    if args.min_confidence > 0:
        drop_unsure(page, args.min_confidence)
    for warning in page.warnings:
        print(f"htr: warning: {args.image}: {warning}", file=sys.stderr)
    if not page.text.strip() and not page.warnings:
        print(f"htr: warning: {args.image}: no text found", file=sys.stderr)
    if args.output:
        save_document(page, args.output, args.out, image)
    else:
        document = write_document(page, args.out, image)
        write_stdout(document if isinstance(document, bytes) or document.endswith("\n") else document + "\n")
    if args.overlay:
        save_overlay(args.overlay, draw_page(image, page))
    return 0
