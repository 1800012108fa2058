"""Writing synthetic data sets to disk in parallel worker processes, deterministically.

Item i of a run with seed s is drawn from SeedSequence([s, i]) alone, so the output does not depend on the
number of workers or their scheduling.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from htr.synth import text as corpus
from htr.synth.fonts import require_fonts
from htr.synth.lines import render_line
from htr.synth.pages import page_xml, render_blank_page, render_page


def item_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))


def _init_worker() -> None:
    cv2.setNumThreads(1)


def _line_job(args) -> str:
    out, seed, index, kind = args
    sample = render_line(item_rng(seed, index), kind=kind)
    name = f"{index:06d}.png"
    cv2.imwrite(str(Path(out) / name), sample.image[..., ::-1])
    return json.dumps({"image": name, **sample.to_json()}, ensure_ascii=False)


def _page_job(args) -> tuple[int, int]:
    out, seed, index, ext, blank, layout, writing = args
    rng = item_rng(seed, index)
    image, page = render_blank_page(rng) if blank else render_page(rng, layout=layout, writing=writing)
    name = f"{index:06d}.{ext}"
    page.source = name
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    cv2.imwrite(str(Path(out) / name), image[..., ::-1], params)
    (Path(out) / f"{index:06d}.xml").write_text(page_xml(page), encoding="utf-8")
    return len(page.lines), sum(1 for _ in page.words())


def _warm() -> None:
    """Load fonts index, Faker and the real-text corpus once in the parent so forked workers share them."""
    require_fonts()
    corpus._fakers()
    corpus.real_lines()


def _run(job, items, workers: int, desc: str, progress: bool):
    workers = max(1, workers or os.cpu_count() or 1)
    bar = tqdm(total=len(items), desc=desc, unit="it", disable=not progress, smoothing=0.1)
    if workers == 1:
        _init_worker()
        for item in items:
            yield job(item)
            bar.update()
    else:
        with mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn").Pool(
                workers, initializer=_init_worker) as pool:
            for result in pool.imap(job, items, chunksize=max(1, min(16, len(items) // (workers * 8)))):
                yield result
                bar.update()
    bar.close()


def write_lines(n: int, out: str | Path, seed: int = 0, workers: int = 0, progress: bool = True,
                kind: str | None = None) -> Path:
    """Write n line images OUT/NNNNNN.png and their ground truth OUT/lines.jsonl (one JSON object a line:
    image, text, kind, font, height, width, words [{text, polygon}], char_spans, baseline). ``kind``:
    only handwriting or only print (default: render_line's mix)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _warm()
    items = [(str(out), seed, i, kind) for i in range(n)]
    with open(out / "lines.jsonl", "w", encoding="utf-8") as f:
        for record in _run(_line_job, items, workers, "lines", progress):
            f.write(record + "\n")
    return out / "lines.jsonl"


def write_pages(n: int, out: str | Path, seed: int = 0, workers: int = 0, progress: bool = True,
                ext: str = "jpg", blank: bool = False, layout: str | None = None,
                writing: str | None = None) -> tuple[int, int]:
    """Write n pages OUT/NNNNNN.jpg (or png) with PAGE-XML 2019 OUT/NNNNNN.xml; (lines, words) written.
    ``blank``: paper without text (``render_blank_page``), for checking that a detector finds nothing;
    ``layout``, ``writing``: only that layout, only that size of writing (``render_page``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not blank:
        _warm()
    items = [(str(out), seed, i, ext, blank, layout, writing) for i in range(n)]
    lines = words = 0
    for nl, nw in _run(_page_job, items, workers, "pages", progress):
        lines, words = lines + nl, words + nw
    return lines, words
