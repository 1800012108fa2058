"""`htr page SCAN --out FORMAT`: one page image (or a page of a PDF or TIFF) to a document; ``--pages``: several
pages of a PDF or TIFF to one searchable PDF or text."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from htr.cli.options import add_reader_options, check_stdout, positive_int, reader, write_stdout
from htr.errors import FormatError, UsageError
from htr.formats import FORMATS, REGISTRY, format_name


def register(commands) -> None:
    p = commands.add_parser(
        "page", help="read a page image: text, hOCR, ALTO, PAGE-XML, JSON or searchable PDF",
        description="Read a page image: detect its lines, recognise them and put them in reading order; print or "
                    "write the result as plain text, hOCR, ALTO, PAGE-XML or JSON, with a polygon and a confidence "
                    "for every line and word, or as a searchable PDF (the scan under an invisible text layer).",
        epilog="Exit codes: 0 the page was read (an empty page gives an empty document and a warning), "
               "1 the image, segmentation or weights could not be read, 2 bad arguments, 130 interrupted.")
    p.add_argument("image", help="page image (JPEG, PNG, TIFF, ...) or PDF; '-' reads it from standard input")
    p.add_argument("--page", type=positive_int, metavar="N",
                   help="the page of a PDF or multi-page TIFF to read, from 1 (default: the first)")
    p.add_argument("--pages", type=parse_pages, metavar="all|N|A-B",
                   help="read these pages of a PDF or multi-page TIFF into one document: --out pdf writes one "
                        "searchable PDF of them, --out text their text, pages separated by a form feed")
    p.add_argument("--out", type=format_name, choices=FORMATS, default="text",
                   help="output format (default: text; pdf: the scan with an invisible, searchable text layer)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--overlay", help="also write the page with lines (red) and words (green) drawn on it")
    p.add_argument("--lines", help="read the lines of this segmentation (PAGE-XML, ALTO, hOCR or htr JSON) instead "
                                   "of detecting them; the output keeps its regions, lines and ids")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="drop the words whose confidence (the probability that a word is read right) is below "
                        "this, and the lines left without words (0-1; default 0: keep all)")
    add_reader_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from htr.document import drop_unsure
    from htr.draw import check_overlay, draw_page, save_overlay
    from htr.formats import read_segmentation, save_document, write_document
    from htr.imageio import load_page

    if not args.output:
        check_stdout(REGISTRY[args.out].binary)  # before the page is read
    if args.overlay:
        check_overlay(args.overlay)
    stdin = args.image == "-"
    if stdin and sys.stdin.isatty():
        raise UsageError("'-' reads the image from standard input: redirect a file into it (htr page - < scan.jpg)")
    name = "<stdin>" if stdin else args.image
    if args.pages is not None:
        return read_pages(args)
    image = load_page(sys.stdin.buffer.read() if stdin else args.image, args.page, name=name)
    try:
        lines = read_segmentation(args.lines) if args.lines else None
    except FormatError as err:
        raise FormatError(f"--lines {err}") from err
    page = reader(args).read(image, lines=lines, source=None if stdin else Path(args.image).name)
    if args.min_confidence > 0:
        drop_unsure(page, args.min_confidence)
    for warning in page.warnings:
        print(f"htr: warning: {name}: {warning}", file=sys.stderr)
    if not page.text.strip() and not page.warnings:
        print(f"htr: warning: {name}: no text found", file=sys.stderr)
    if args.output:
        save_document(page, args.output, args.out, image)
    else:
        document = write_document(page, args.out, image)
        write_stdout(document if isinstance(document, bytes) or document.endswith("\n") else document + "\n")
    if args.overlay:
        save_overlay(args.overlay, draw_page(image, page))
    return 0


def parse_pages(text: str) -> str | range:
    """--pages: 'all', N or A-B (from 1, A <= B)."""
    if text.strip().lower() == "all":
        return "all"
    first, dash, last = text.partition("-")
    try:
        a, b = int(first), int(last if dash else first)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: all, a page number N or a range A-B") from None
    if not 1 <= a <= b:
        raise argparse.ArgumentTypeError(f"{text!r}: pages count from 1, and A-B needs A <= B")
    return range(a, b + 1)


def read_pages(args) -> int:
    """--pages: the chosen pages of a PDF or multi-page TIFF read into one document (pdf or text; any format
    for one page)."""
    from htr.document import Document, drop_unsure
    from htr.files import atomic_write
    from htr.formats import write_document, write_pdf_pages
    from htr.imageio import load_page
    from htr.pipeline import page_numbers

    if args.image == "-" or args.page or args.lines or args.overlay:
        raise UsageError("--pages reads the pages of a file as they are: not from stdin, nor with --page, --lines "
                         "or --overlay")
    numbers = page_numbers(args.image, None if args.pages == "all" else args.pages)
    if len(numbers) > 1 and args.out not in ("pdf", "text"):
        raise UsageError(f"{len(numbers)} pages go into one document as --out pdf or text (a document per page: "
                         "htr batch)")
    read, pairs = reader(args), []
    for number in numbers:
        image = load_page(args.image, number)
        page = read.read(image, source=Path(args.image).name)
        if args.min_confidence > 0:
            drop_unsure(page, args.min_confidence)
        where = args.image if number is None else f"{args.image} page {number}"
        for warning in page.warnings or (["no text found"] if not page.text.strip() else []):
            print(f"htr: warning: {where}: {warning}", file=sys.stderr)
        pairs.append((page, image))
    if args.out == "pdf":
        document = write_pdf_pages(pairs)
    elif args.out == "text":
        document = Document([page for page, _ in pairs]).text + "\n"
    else:
        page, image = pairs[0]
        document = write_document(page, args.out, image)
    if args.output:
        atomic_write(args.output, document)
    else:
        write_stdout(document if isinstance(document, bytes) or document.endswith("\n") else document + "\n")
    return 0
