"""`htr synth fonts | lines N OUT | pages N OUT | bench`: synthetic handwriting and print with exact ground truth."""
from __future__ import annotations

import os


def register(commands) -> None:
    from htr.synth.layouts import LAYOUTS
    from htr.synth.pages import WRITING_SCALES

    synth = commands.add_parser("synth", help="synthetic handwriting and print: fonts, lines, pages")
    sub = synth.add_subparsers(dest="synth_command", required=True)

    p = sub.add_parser("fonts", help="fetch the pinned fonts with npm, verify them and print a summary")
    p.add_argument("names", nargs="*", help="only these packages or families (default: the whole manifest)")
    p.set_defaults(func=run_fonts)

    for name, func, help_ in (("lines", run_lines, "N line images + OUT/lines.jsonl"),
                              ("pages", run_pages, "N page images + PAGE-XML")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("n", type=int, help="how many")
        p.add_argument("out", help="output folder")
        p.add_argument("--seed", type=int, default=0, help="base seed: the same seed gives the same files")
        p.add_argument("--workers", type=int, default=0, help="worker processes (default: all CPUs)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "pages":
            p.add_argument("--format", choices=["jpg", "png"], default="jpg", help="page image format")
            p.add_argument("--blank", action="store_true",
                           help="paper without text (stains, filing holes, rulings), PAGE-XML without lines: "
                                "what a detector should find nothing on")
            p.add_argument("--layout", choices=sorted(LAYOUTS), help="only this layout (default: any)")
            p.add_argument("--writing", choices=list(WRITING_SCALES),
                           help="only this size of writing (default: "
                                + ", ".join(f"{k} {round(v[0] * 100)}%%" for k, v in WRITING_SCALES.items()) + ")")
        else:
            p.add_argument("--kind", choices=["handwriting", "print"],
                           help="only this kind of line (default: handwriting 3 times in 4, else print)")
        p.set_defaults(func=func)

    p = sub.add_parser("bench", help="measure lines/s and pages/s with all CPUs")
    p.add_argument("--lines", type=int, default=1000, help="lines per run")
    p.add_argument("--pages", type=int, default=24, help="pages per run")
    p.add_argument("--runs", type=int, default=3, help="runs (the median is reported)")
    p.add_argument("--workers", type=int, default=0)
    p.set_defaults(func=run_bench)


def run_fonts(args) -> int:
    from tqdm import tqdm

    from htr.synth import fonts

    wanted = args.names or None
    total = len(wanted) if wanted else len(fonts.load_manifest())
    with tqdm(total=total, desc="fonts", unit="font") as bar:
        index = fonts.fetch_fonts(wanted, progress=bar.update)
    print(f"cache: {fonts.cache_dir()}")
    print(fonts.summary(index))
    return 0 if any(not r["dropped"] for r in index.values()) else 1


def run_lines(args) -> int:
    from htr.synth.dataset import write_lines

    path = write_lines(args.n, args.out, seed=args.seed, workers=args.workers, progress=not args.quiet,
                       kind=args.kind)
    print(f"wrote {args.n} lines: {path}")
    return 0


def run_pages(args) -> int:
    from htr.synth.dataset import write_pages

    lines, words = write_pages(args.n, args.out, seed=args.seed, workers=args.workers,
                               progress=not args.quiet, ext=args.format, blank=args.blank, layout=args.layout,
                               writing=args.writing)
    print(f"wrote {args.n} pages ({lines} lines, {words} words) to {args.out}")
    return 0


def run_bench(args) -> int:
    """Throughput of `synth lines` and `synth pages` (images and ground truth written to a temp dir)."""
    from htr.synth.bench import bench, machine

    workers = args.workers or os.cpu_count() or 1
    where = machine(workers, args.runs)  # before the runs: the load average at start
    rows = bench(args.lines, args.pages, args.runs, workers)
    print(where)
    print(f"{'what':<6} {'items':>6} {'median/s':>9} {'min/s':>7} {'max/s':>7} {'cpu ms/item':>12} "
          f"{'cpu-bound/s':>12}")
    for r in rows:
        print(f"{r.what:<6} {r.items:>6} {r.median:>9.1f} {r.low:>7.1f} {r.high:>7.1f} {r.cpu_ms:>12.1f} "
              f"{r.bound:>12.1f}")
    print("cpu-bound/s: the rate the workers' own CPU time allows with all of them on free cores "
          "(wall-clock rates drop when other processes share the CPUs)")
    return 0
