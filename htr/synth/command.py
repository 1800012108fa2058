"""`htr synth fonts | lines N OUT | pages N OUT | bench`: the synthetic-data commands.

`add_commands(subparsers)` adds them to htr's CLI; `python -m htr.synth.command ...` runs them alone.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time


def cmd_fonts(args) -> int:
    from tqdm import tqdm

    from htr.synth import fonts

    wanted = args.names or None
    total = len(wanted) if wanted else len(fonts.load_manifest())
    with tqdm(total=total, desc="fonts", unit="font") as bar:
        index = fonts.fetch_fonts(wanted, progress=bar.update)
    print(f"cache: {fonts.cache_dir()}")
    print(fonts.summary(index))
    return 0 if any(not r["dropped"] for r in index.values()) else 1


def cmd_lines(args) -> int:
    from htr.synth.dataset import write_lines

    path = write_lines(args.n, args.out, seed=args.seed, workers=args.workers, progress=not args.quiet,
                       kind=args.kind)
    print(f"wrote {args.n} lines: {path}")
    return 0


def cmd_pages(args) -> int:
    from htr.synth.dataset import write_pages

    lines, words = write_pages(args.n, args.out, seed=args.seed, workers=args.workers,
                               progress=not args.quiet, ext=args.format)
    print(f"wrote {args.n} pages ({lines} lines, {words} words) to {args.out}")
    return 0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cmd_bench(args) -> int:
    """Throughput of `synth lines` and `synth pages` (images and ground truth written to a temp dir)."""
    from htr.synth.dataset import write_lines, write_pages

    workers = args.workers or os.cpu_count() or 1
    load = f"; load average at start: {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    rows = []
    for what, n, write in (("lines", args.lines, write_lines), ("pages", args.pages, write_pages)):
        rates, cpu_ms = [], []
        for run in range(args.runs):
            out = tempfile.mkdtemp(prefix=f"htr-bench-{what}-")
            try:
                cpu0 = _cpu_seconds()
                start = time.perf_counter()
                write(n, out, seed=run, workers=workers, progress=False)
                rates.append(n / (time.perf_counter() - start))
                cpu_ms.append((_cpu_seconds() - cpu0) / n * 1000)
            finally:
                shutil.rmtree(out, ignore_errors=True)
        cpu = statistics.median(cpu_ms)
        rows.append((what, n, statistics.median(rates), min(rates), max(rates), cpu, workers * 1000 / cpu))
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}; workers: {workers}; runs: {args.runs}{load}")
    print(f"{'what':<6} {'items':>6} {'median/s':>9} {'min/s':>7} {'max/s':>7} {'cpu ms/item':>12} "
          f"{'cpu-bound/s':>12}")
    for what, n, med, lo, hi, cpu, bound in rows:
        print(f"{what:<6} {n:>6} {med:>9.1f} {lo:>7.1f} {hi:>7.1f} {cpu:>12.1f} {bound:>12.1f}")
    print("cpu-bound/s: the rate the workers' own CPU time allows with all of them on free cores "
          "(wall-clock rates drop when other processes share the CPUs)")
    return 0


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def add_commands(subparsers) -> argparse.ArgumentParser:
    """Add the `synth` command (with fonts, lines, pages, bench) to an argparse subparsers object."""
    synth = subparsers.add_parser("synth", help="synthetic handwriting and print: fonts, lines, pages")
    sub = synth.add_subparsers(dest="synth_command", required=True)

    p = sub.add_parser("fonts", help="fetch the pinned fonts with npm, verify them and print a summary")
    p.add_argument("names", nargs="*", help="only these packages or families (default: the whole manifest)")
    p.set_defaults(func=cmd_fonts)

    for name, func, help_ in (("lines", cmd_lines, "N line images + OUT/lines.jsonl"),
                              ("pages", cmd_pages, "N page images + PAGE-XML")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("n", type=int, help="how many")
        p.add_argument("out", help="output folder")
        p.add_argument("--seed", type=int, default=0, help="base seed: the same seed gives the same files")
        p.add_argument("--workers", type=int, default=0, help="worker processes (default: all CPUs)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "pages":
            p.add_argument("--format", choices=["jpg", "png"], default="jpg", help="page image format")
        else:
            p.add_argument("--kind", choices=["handwriting", "print"],
                           help="only this kind of line (default: handwriting 3 times in 4, else print)")
        p.set_defaults(func=func)

    p = sub.add_parser("bench", help="measure lines/s and pages/s with all CPUs")
    p.add_argument("--lines", type=int, default=1000, help="lines per run")
    p.add_argument("--pages", type=int, default=24, help="pages per run")
    p.add_argument("--runs", type=int, default=3, help="runs (the median is reported)")
    p.add_argument("--workers", type=int, default=0)
    p.set_defaults(func=cmd_bench)
    return synth


if __name__ == "__main__":
    from htr.cli import main

    sys.exit(main(["synth", *sys.argv[1:]]))
