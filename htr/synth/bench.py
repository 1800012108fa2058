"""Throughput of `htr synth lines` and `htr synth pages` on this machine (files written to a temporary folder)."""
from __future__ import annotations

import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass


@dataclass
class BenchRow:
    what: str  # "lines" or "pages"
    items: int  # per run
    median: float  # items per second, median of the runs
    low: float
    high: float
    cpu_ms: float  # CPU milliseconds per item (this process and its workers), median
    bound: float  # items per second the workers' own CPU time allows with all of them on free cores


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench(lines: int, pages: int, runs: int, workers: int) -> list[BenchRow]:
    """``runs`` runs of ``lines`` lines and of ``pages`` pages (seeds 0, 1, ...) with ``workers`` processes."""
    from htr.synth.dataset import write_lines, write_pages

    rows = []
    for what, n, write in (("lines", lines, write_lines), ("pages", pages, write_pages)):
        rates, cpu_ms = [], []
        for run in range(runs):
            out = tempfile.mkdtemp(prefix=f"htr-bench-{what}-")
            try:
                cpu0 = cpu_seconds()
                start = time.perf_counter()
                write(n, out, seed=run, workers=workers, progress=False)
                rates.append(n / (time.perf_counter() - start))
                cpu_ms.append((cpu_seconds() - cpu0) / n * 1000)
            finally:
                shutil.rmtree(out, ignore_errors=True)
        cpu = statistics.median(cpu_ms)
        rows.append(BenchRow(what, n, statistics.median(rates), min(rates), max(rates), cpu, workers * 1000 / cpu))
    return rows


def machine(workers: int, runs: int) -> str:
    """The line that says what the figures were measured on."""
    load = f"; load average at start: {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"machine: {os.cpu_count()} CPUs, {cpu_model()}; workers: {workers}; runs: {runs}{load}"
