"""`htr data compile` and `htr data stats`: ground truth in, a compiled corpus and its report out."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from htr.data.compile import SPLITS, Source, compile_corpus
from htr.data.corpus import read_manifest
from htr.errors import HTRError, UsageError

SHOWN_LEFT_OUT = 30  # left-out entries printed; all of them are in CORPUS/report.txt


def parse_gt(spec: str) -> tuple[str, Path, str]:
    """``[NAME=]FOLDER[:train|:dev]`` -> (source name, folder, split rule). A folder named train or dev is
    all of that split; the source is then named after the folder above it."""
    name, _, rest = spec.rpartition("=") if "=" in spec else ("", "", spec)
    split = "hash"
    for s in SPLITS:
        if rest.endswith(":" + s):
            rest, split = rest[: -len(s) - 1], s
    folder = Path(rest)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    if split == "hash" and folder.resolve().name in SPLITS:
        split = folder.resolve().name
    if not name:
        name = folder.resolve().parent.name if folder.resolve().name in SPLITS else folder.resolve().name
    return name.lower().replace(" ", "_"), folder, split


def gt_sources(specs: list[str], document: str = "page", exclude: list[str] | None = None) -> list[Source]:
    """Sources from command-line GT arguments; folders of the same name join one source."""
    by_name: dict[str, Source] = {}
    for spec in specs:
        name, folder, split = parse_gt(spec)
        source = by_name.setdefault(name, Source(name, [], document=document, exclude=list(exclude or [])))
        source.folders.append((folder, split))
    return list(by_name.values())


def load_recipe(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"{path}: cannot read the recipe ({err})") from err


def recipe_sources(recipe: dict, root: Path, only: list[str] | None = None) -> list[Source]:
    """The sources of a corpus recipe whose repositories are laid out as ROOT/OWNER+NAME. Holdout sources
    (kept out of every model) only when ``only`` names them."""
    out = []
    for entry in recipe.get("source", []):
        if only is not None and entry["name"] not in only:
            continue
        if only is None and entry.get("holdout"):
            continue
        repo_dir = Path(root) / entry["repo"].replace("/", "+")
        if not repo_dir.is_dir():
            raise UsageError(f"{repo_dir}: not found (the files of {entry['repo']} at {entry['commit'][:12]}; "
                             "see training/build_corpus.py)")
        folders = [(repo_dir / p, entry.get("split", "hash")) for p in entry.get("paths", [""])]
        out.append(Source(entry["name"], folders, root=repo_dir, document=entry.get("document", "folder"),
                          exclude=list(entry.get("exclude", []))))
    return out


def shipped_recogniser() -> tuple[str | None, int]:
    """The characters the shipped recogniser can emit (None where its weights are absent) and its crop height."""
    import torch

    from htr.recognition.recognizer import DEFAULT_WEIGHTS

    if not Path(DEFAULT_WEIGHTS).is_file():
        return None, 40
    blob = torch.load(DEFAULT_WEIGHTS, map_location="cpu", weights_only=True)
    return blob["charset"], int(blob["preprocess"]["height"])


def format_report(corpus: Path, charset: str | None, shown: int | None = SHOWN_LEFT_OUT) -> str:
    """The corpus report: a table per source and split, left-out reasons, the charset, every left-out entry
    (the first ``shown`` of them; None: all)."""
    manifest = read_manifest(corpus)
    reports = [json.loads((corpus / name / "report.json").read_text(encoding="utf-8"))
               for name in sorted(manifest["sources"])]
    width = max([len("source"), len("total")] + [len(r["name"]) for r in reports])
    rows = [f"{'source':<{width}}  {'split':<5} {'docs':>6} {'pages':>6} {'lines':>7} {'chars':>9}  left out"]
    totals = {s: Counter() for s in SPLITS}
    reasons: Counter = Counter()
    chars: Counter = Counter()
    left_out = []
    for r in reports:
        for k, s in enumerate(SPLITS):
            f = r["splits"][s]
            totals[s].update(f)
            first = k == 0
            note = ", ".join(f"{n} {why}" for why, n in r["left_out_reasons"].items()) if first else ""
            rows.append(f"{r['name'] if first else '':<{width}}  {s:<5} {f['documents']:>6} {f['pages']:>6} "
                        f"{f['lines']:>7} {f['chars']:>9}  {(str(len(r['left_out'])) + ': ' + note) if note else ''}")
        reasons.update(r["left_out_reasons"])
        chars.update(r["charset"])
        left_out += r["left_out"]
    for k, s in enumerate(SPLITS):
        f = totals[s]
        rows.append(f"{'total' if k == 0 else '':<{width}}  {s:<5} {f['documents']:>6} {f['pages']:>6} "
                    f"{f['lines']:>7} {f['chars']:>9}  {len(left_out) if k == 0 else ''}")
    rows.append("")
    rows.append("left out, by reason: " + (", ".join(f"{why} {n}" for why, n in reasons.most_common()) or "nothing"))
    rows.append(f"charset: {len(chars)} characters, by count: " +
                " ".join(f"{c!r}:{n}" for c, n in chars.most_common()))
    if charset is not None:
        from htr.recognition.codec import Codec

        codec = Codec(charset)
        missing = {c: n for c, n in chars.most_common() if codec.unknown_chars(c)}
        rows.append(f"not emitted by the shipped recogniser ({len(missing)} characters, "
                    f"{sum(missing.values())} occurrences): " +
                    (" ".join(f"{c!r} U+{ord(c):04X}:{n}" for c, n in missing.items()) or "none"))
    rows.append("")
    limit = len(left_out) if shown is None else min(shown, len(left_out))
    rows.append(f"left out ({len(left_out)}{'' if limit == len(left_out) else f', the first {limit}'}):")
    rows += [f"  {e['where']}\t{e['reason']}" for e in left_out[:limit]]
    if limit < len(left_out):
        rows.append(f"  ... {len(left_out) - limit} more in {corpus / 'report.txt'}")
    return "\n".join(rows)


def configure_compile(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
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
    return p


def run_compile(args) -> int:
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


def configure_stats(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("corpus", help="a compiled corpus folder")
    p.add_argument("--all", action="store_true", help="list every line and page left out")
    return p


def run_stats(args) -> int:
    corpus = Path(args.corpus)
    if read_manifest(corpus) is None:
        raise HTRError(f"{corpus}: not a compiled corpus (no manifest.json)")
    print(format_report(corpus, shipped_recogniser()[0], shown=None if args.all else SHOWN_LEFT_OUT))
    return 0

