"""`htr data compile` and `htr data stats`: ground truth in, a compiled corpus and its report out."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from htr.errors import HTRError, UsageError


def register(commands) -> None:
    data = commands.add_parser("data", help="compile ground truth into a training corpus; its statistics",
                               description="Training data: `htr data compile --help`, `htr data stats --help`.")
    sub = data.add_subparsers(dest="data_command", metavar="WHAT", required=True)

    p = sub.add_parser(
        "compile", help="compile PAGE/ALTO folders and line crops into a corpus, with a report",
        description="Crop every transcribed line of PAGE-XML/ALTO pages (and line-crop folders) once, at the "
                    "recogniser's height, into a memory-mapped corpus; index the pages for the detector; split by "
                    "document; report what was compiled and every line or page left out, with the reason. "
                    "Unchanged sources are not compiled again. Exit 0 when the corpus has lines, 1 when nothing "
                    "could be compiled, 2 on bad arguments.")
    p.add_argument("gt", nargs="*", metavar="[NAME=]GT[:SPLIT]",
                   help="folders (searched recursively) of page images with PAGE-XML/ALTO beside them, or of line "
                        "crops listed in labels.tsv / lines.jsonl. NAME names the source (default: the folder's name, "
                        "or the one above a folder named train or dev); :train or :dev marks all of it one split "
                        "(a folder named train or dev is marked so already); else documents are split by hash")
    p.add_argument("-o", "--out", required=True, help="corpus folder (created; sources compiled before are kept)")
    p.add_argument("--recipe", help="a corpus recipe (training/corpus.toml): its sources are compiled too")
    p.add_argument("--sources-root", help="with --recipe: the folder holding each repository as OWNER+NAME")
    p.add_argument("--only", help="with --recipe: only these sources (comma-separated); holdout sources "
                                  "compile only when named here")
    p.add_argument("--dev-share", type=float,
                   help="share of documents held out as dev where a folder is not marked (default: the recipe's, "
                        "else 0.1)")
    p.add_argument("--document", default="page",
                   help="for GT folders: what a document is for the split: 'page' (each page), 'folder' (the pages "
                        "of a folder), or a regex whose first group, searched in the page's path, is the document "
                        "key (default: page)")
    p.add_argument("--exclude", action="append", default=[], help="skip paths matching this glob (repeatable)")
    p.add_argument("--height", type=int, default=0, help="crop height (default: the shipped recogniser's)")
    p.add_argument("--workers", type=int, default=1, help="processes cropping pages (default: 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_compile)

    p = sub.add_parser("stats", help="the report of a compiled corpus",
                       description="Pages, lines and characters per source and split, the charset, and what was "
                                   "left out, of a compiled corpus.")
    p.add_argument("corpus", help="a compiled corpus folder")
    p.add_argument("--all", action="store_true", help="list every line and page left out")
    p.set_defaults(func=run_stats)


def run_compile(args) -> int:
    from htr.data.compile import SPLITS, compile_corpus
    from htr.data.report import format_report, shipped_recogniser
    from htr.data.sources import gt_sources, load_recipe, recipe_sources

    if not args.gt and not args.recipe:
        raise UsageError("give ground-truth folders, or --recipe with --sources-root")
    sources = gt_sources(args.gt, args.document, args.exclude)
    dev_share = 0.1 if args.dev_share is None else args.dev_share
    if args.recipe:
        if not args.sources_root:
            raise UsageError("--recipe needs --sources-root")
        only = [s.strip() for s in args.only.split(",")] if args.only else None
        recipe = load_recipe(Path(args.recipe))
        sources += recipe_sources(recipe, Path(args.sources_root), only)
        dev_share = recipe.get("dev_share", 0.1) if args.dev_share is None else args.dev_share
    if not 0 <= dev_share < 1:
        raise UsageError(f"--dev-share must be in [0, 1), got {dev_share}")
    charset, shipped_height = shipped_recogniser()
    height = args.height or shipped_height
    out = Path(args.out)
    start = time.time()
    manifest = compile_corpus(sources, out, height, dev_share, args.workers, args.quiet)
    seconds = time.time() - start
    report = format_report(out, charset, shown=None)
    (out / "report.txt").write_text(report + "\n", encoding="utf-8")
    print(format_report(out, charset))
    compiled = manifest["compiled"]
    new_lines = sum(manifest["sources"][n]["splits"][s]["lines"] for n in compiled for s in SPLITS)
    if compiled:
        print(f"\ncompiled {', '.join(compiled)}: {new_lines} lines in {seconds:.1f} s "
              f"({new_lines / max(seconds, 1e-9):.0f} lines/s)", file=sys.stderr)
    else:
        print(f"\n{out}: up to date ({seconds:.1f} s)", file=sys.stderr)
    total = sum(info["splits"][s]["lines"] for info in manifest["sources"].values() for s in SPLITS)
    return 0 if total else 1


def run_stats(args) -> int:
    from htr.data.corpus import read_manifest
    from htr.data.report import SHOWN_LEFT_OUT, format_report, shipped_recogniser

    corpus = Path(args.corpus)
    if read_manifest(corpus) is None:
        raise HTRError(f"{corpus}: not a compiled corpus (no manifest.json)")
    print(format_report(corpus, shipped_recogniser()[0], shown=None if args.all else SHOWN_LEFT_OUT))
    return 0
