"""`htr convert IN OUT`: a document, or a folder of them, from one format to another."""
from __future__ import annotations

import sys
from pathlib import Path

from htr.cli.options import write_stdout
from htr.errors import HTRError, plural
from htr.formats import REGISTRY, document_files, format_for_path, read_document, save_document, write_document

TARGETS = tuple(name for name, f in REGISTRY.items() if not f.needs_image)  # a PDF needs the scan: htr page, batch
_SUFFIXES = [REGISTRY[name].suffix for name in TARGETS]
SUFFIXES = f"{', '.join(_SUFFIXES[:-1])} or {_SUFFIXES[-1]}"  # ".page.xml, .alto.xml, .hocr, .txt or .json"


def register(commands) -> None:
    p = commands.add_parser(
        "convert", help="convert a page between PAGE-XML, ALTO, hOCR, text and JSON",
        description="Convert a document (PAGE-XML 2013/2019, ALTO v2-v4, hOCR or htr JSON; the input format is "
                    "read from the content) to another format. The output format comes from --to or from the "
                    f"output name ({SUFFIXES}). A folder converts every document in it (recursively) into an "
                    "output folder, each named after its input with the format's suffix (KEY.page.xml, "
                    "KEY.alto.xml, ...); --to is then required.")
    p.add_argument("input", help="input document or folder")
    p.add_argument("output", help="output file ('-' for stdout) or folder")
    p.add_argument("--to", choices=TARGETS, help="output format")
    p.set_defaults(func=run)


def run(args) -> int:
    source, target = Path(args.input), Path(args.output)
    if not source.exists():
        raise HTRError(f"{source}: no such file or directory")
    if source.is_dir():
        return convert_folder(source, target, args.to)
    fmt = args.to or format_for_path(target)
    if fmt is None:
        raise HTRError(f"cannot tell the output format from {target.name!r}: give --to "
                       f"({', '.join(TARGETS)}) or name it {SUFFIXES}")
    if fmt not in TARGETS:
        raise HTRError(f"{target.name}: htr convert cannot write {REGISTRY[fmt].title}, which needs the page "
                       f"image (htr page SCAN --out {fmt}, htr batch --formats {fmt}); write {SUFFIXES}")
    if str(target) == "-":
        write_stdout(write_document(read_document(source), fmt))
    else:
        save_document(read_document(source), target, fmt)
    return 0


def convert_folder(source: Path, target: Path, fmt: str | None) -> int:
    """Every document under ``source`` into the same place under ``target``; a failure is reported and skipped."""
    if not fmt:
        raise HTRError("converting a folder needs --to FORMAT")
    files = document_files(source)
    if not files:
        raise HTRError(f"{source}: no PAGE, ALTO, hOCR, JSON or text documents found")
    failures = 0
    for key, path in files.items():
        out = target / path.parent.relative_to(source) / (key + REGISTRY[fmt].suffix)
        try:
            save_document(read_document(path), out, fmt)
        except HTRError as err:
            failures += 1
            print(f"htr: {err}", file=sys.stderr)
    print(f"converted {len(files) - failures} of {plural(len(files), 'document')} to {target}", file=sys.stderr)
    return 1 if failures else 0
