"""Reading every page image, multi-page TIFF and PDF of a folder into documents (`htr batch IN_DIR OUT_DIR`).

Every page under IN_DIR (recursively) gets a key, its path under IN_DIR without the suffix (plus
``_p0001``, ``_p0002``, ... for the pages of a PDF or a multi-page TIFF), and its outputs in OUT_DIR, which
mirrors the input tree: KEY.page.xml, KEY.alto.xml, KEY.hocr, KEY.txt, KEY.json and KEY.pdf, as ``--formats``
asks; with PDF output a PDF or multi-page TIFF also gets one PDF of all its pages (``combine_pdf``: its key
without ``_pNNNN``), made from its page PDFs once they all exist. Every file is written under a temporary name
beside its final one and renamed into place, so an output is either complete or absent.

Resuming: a page whose outputs all exist is skipped, so the same command run again after an interruption
(Ctrl-C stops a run cleanly: finished pages stay, this run's temporary files are removed) does only the rest.
A page that cannot be read never stops the run: OUT_DIR/failures.tsv lists the failed pages of the latest
run (input, page, error), and OUT_DIR/manifest.jsonl gets one JSON line per page finished.

Exit codes: 0 every page done (or already done); 1 fatal error (IN_DIR missing, no inputs found, models
that cannot be loaded); 3 partial failure: some pages failed (see failures.tsv), the others are done;
130 interrupted.

With ``--workers N`` above 1, N processes ("spawn") each load the models once and read pages in parallel;
with 1 worker the pages are read in this process, by the same functions. The command itself (its options,
the progress bar, the run loop) is ``htr.cli.batch``.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import resource
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from htr.errors import HTRError, ImageError, one_line
from htr.files import atomic_path, atomic_write, temporary_path, write_data
from htr.formats import REGISTRY, write_document
from htr.imageio import IMAGE_SUFFIXES, PDF_SUFFIX, load_page as load_image_page, page_count
from htr.paths import DEFAULT_LM
from htr.recognition.decode import DEFAULT_BEAM
from htr.runtime import DEFAULT_RUNTIME

MANIFEST = "manifest.jsonl"
FAILURES = "failures.tsv"

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass(frozen=True)
class PageJob:
    """One page to read: ``page`` is its 1-based number in a PDF or multi-page TIFF, None for an image."""
    input: Path
    page: int | None
    key: str  # output path under OUT_DIR without the format suffix, '/'-separated


@dataclass(frozen=True)
class Failure:
    input: Path
    page: int | None
    error: str  # one line


@dataclass
class PageResult:
    """What a worker did with a job: ``outputs`` are (temporary, final) paths, renamed by ``commit``."""
    job: PageJob
    outputs: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    lines: int = 0
    words: int = 0
    mean_confidence: float | None = None
    peak_rss_mb: float = 0.0  # the reading process's peak resident memory so far
    error: str | None = None  # the page failed
    fatal: str | None = None  # the worker could not load the models


@dataclass(frozen=True)
class Options:
    """What a worker needs to build its Reader and write outputs (picklable, sent to each worker)."""
    out_dir: Path
    formats: tuple[str, ...]
    tag: str  # marks this run's temporary files
    det_weights: str | None = None
    rec_weights: str | None = None
    beam: int = DEFAULT_BEAM
    lm: str | Path | None = DEFAULT_LM
    lang: tuple[str, ...] | None = None
    threads: int | None = None
    runtime: str = DEFAULT_RUNTIME  # what runs the models: torch or onnx (htr.runtime)


# ------------------------------------------------------------------------------------------------ inputs

def input_files(in_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Images, TIFFs and PDFs under ``in_dir``, sorted; hidden names and ``out_dir`` (when inside) left out."""
    skip = os.path.realpath(out_dir) if out_dir is not None else None
    if skip == os.path.realpath(in_dir):
        skip = None  # outputs beside the inputs: they are never images, so nothing to leave out
    found = []
    for root, dirs, files in os.walk(in_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) != skip)
        found += [Path(root, f) for f in sorted(files)
                  if not f.startswith(".") and f.lower().endswith((*IMAGE_SUFFIXES, PDF_SUFFIX))]
    return found


def find_pages(in_dir: Path, out_dir: Path | None = None) -> tuple[list[PageJob], list[Failure]]:
    """Every page under ``in_dir`` as a job, and the files that cannot even be opened (one failure each).

    Two files with one key (``a.jpg`` and ``a.png``) keep their suffix in it (``a.jpg``, ``a.png``)."""
    pages: list[tuple[Path, int | None]] = []
    failures = []
    for path in input_files(in_dir, out_dir):
        try:
            count = page_count(path)
        except ImageError as err:
            failures.append(Failure(path, None, one_line(err, path)))
            continue
        pages += [(path, None)] if count is None else [(path, n) for n in range(1, count + 1)]

    def key(path: Path, page: int | None, keep_suffix: bool) -> str:
        rel = path.relative_to(in_dir)
        name = (rel if keep_suffix else rel.with_suffix("")).as_posix()
        return name if page is None else f"{name}_p{page:04d}"

    keys = [key(path, page, False) for path, page in pages]
    seen: dict[str, Path] = {}
    clashing = set()
    for (path, _), k in zip(pages, keys):
        if seen.setdefault(k, path) != path:
            clashing |= {path, seen[k]}
    jobs = [PageJob(path, page, key(path, page, path in clashing)) for path, page in pages]
    if len({job.key for job in jobs}) != len(jobs):
        raise HTRError(f"{in_dir}: input files whose output names clash even with their suffixes kept; rename them")
    return jobs, failures


def output_paths(out_dir: Path, key: str, formats: tuple[str, ...]) -> list[Path]:
    return [out_dir / (key + REGISTRY[fmt].suffix) for fmt in formats]


def is_done(job: PageJob, out_dir: Path, formats: tuple[str, ...]) -> bool:
    return all(path.is_file() for path in output_paths(out_dir, job.key, formats))


def load_page(job: PageJob) -> np.ndarray:
    """The job's page as an RGB array; ImageError when it cannot be read."""
    return load_image_page(job.input, job.page)


# ------------------------------------------------------------------------------------------------ workers

_state: dict = {}  # this process's Reader and Options


def init_worker(options: Options) -> None:
    """Load the models once for this process (in-process runs call it directly: errors propagate)."""
    from htr.pipeline import Reader

    _state.clear()
    try:
        reader = Reader(options.det_weights, options.rec_weights, threads=options.threads, beam=options.beam,
                        lm=options.lm, lang=options.lang, runtime=options.runtime)
    except HTRError:
        raise
    except Exception as err:
        raise HTRError(f"cannot load the models ({one_line(err)})") from err
    _state.update(reader=reader, options=options)


def _init_pool_worker(options: Options) -> None:
    """Pool initializer: Ctrl-C is the main process's to handle; a failure is kept and reported per job
    (an initializer that raises would have the pool start workers forever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        init_worker(options)
    except Exception as err:
        _state["fatal"] = one_line(err)


def write_outputs(page, job: PageJob, options: Options, image: np.ndarray | None = None) -> list[tuple[str, str]]:
    """Write the page in every format under temporary names beside the final ones; (temporary, final)."""
    written: list[tuple[str, str]] = []
    try:
        for fmt, final in zip(options.formats, output_paths(options.out_dir, job.key, options.formats)):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = temporary_path(final, options.tag)
            written.append((str(tmp), str(final)))
            write_data(tmp, write_document(page, fmt, image))
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise
    return written


def read_job(job: PageJob) -> PageResult:
    """Read one page with this process's Reader and write its outputs (temporary names). Never raises,
    except KeyboardInterrupt: a failure is the result's ``error``."""
    if "reader" not in _state:
        return PageResult(job, fatal=_state.get("fatal", "worker not initialised"))
    start = time.perf_counter()
    try:
        image = load_page(job)
        page = _state["reader"].read(image, source=job.input.name)
        outputs = write_outputs(page, job, _state["options"], image)
    except Exception as err:
        return PageResult(job, error=one_line(err, job.input))
    confidences = [ln.confidence for ln in page.lines if ln.confidence is not None]
    return PageResult(job, outputs, seconds=round(time.perf_counter() - start, 3), lines=len(page.lines),
                      words=sum(1 for _ in page.words()),
                      mean_confidence=round(float(np.mean(confidences)), 4) if confidences else None,
                      peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


@contextmanager
def page_results(jobs: list[PageJob], options: Options, workers: int) -> Iterator[Iterator[PageResult]]:
    """Results of ``read_job`` for every job: in this process for 1 worker, else from a spawn pool
    (as they finish). Leaving the block stops the pool's workers, finished or not."""
    if workers <= 1 or len(jobs) <= 1:
        init_worker(options)
        yield map(read_job, jobs)
        return
    context = multiprocessing.get_context("spawn")
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the workers start with Ctrl-C ignored
    try:
        pool = context.Pool(min(workers, len(jobs)), initializer=_init_pool_worker, initargs=(options,))
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        yield pool.imap_unordered(read_job, jobs)
    finally:
        pool.terminate()
        pool.join()


# ------------------------------------------------------------------------------------------------ main side

@contextmanager
def interrupts_deferred():
    """Hold Ctrl-C and SIGTERM back until the block is done (renames and the manifest line go together);
    one that came meanwhile is raised as KeyboardInterrupt after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    stops = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) not in (signal.SIG_IGN, None)]
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in stops}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if received:
            raise KeyboardInterrupt


def commit(result: PageResult, in_dir: Path, out_dir: Path, manifest) -> None:
    """Rename a finished page's outputs into place and append its manifest line."""
    for tmp, final in result.outputs:
        os.replace(tmp, final)
    record = {"input": result.job.input.relative_to(in_dir).as_posix(), "page": result.job.page,
              "outputs": [Path(final).relative_to(out_dir).as_posix() for _, final in result.outputs],
              "seconds": result.seconds, "lines": result.lines, "words": result.words,
              "mean_confidence": result.mean_confidence, "peak_rss_mb": result.peak_rss_mb}
    manifest.write(json.dumps(record, ensure_ascii=False) + "\n")
    manifest.flush()


def combine_pdf(jobs: list[PageJob], out_dir: Path, tag: str, taken=frozenset()) -> bool:
    """Concatenate the page PDFs of one PDF or multi-page TIFF (``jobs``: its pages) in page order into
    OUT_DIR/KEY.pdf, KEY being the page keys without ``_pNNNN``; written under a temporary name and renamed,
    so it is complete or absent. False (nothing written) when a page's PDF is missing, when KEY is in
    ``taken`` (another input's page key: that page's own KEY.pdf) or when KEY.pdf is up to date (newer than
    every page PDF)."""
    import pypdfium2

    jobs = sorted(jobs, key=lambda job: job.page)
    key, suffix = jobs[0].key.rsplit("_p", 1)[0], REGISTRY["pdf"].suffix
    pages, final = [out_dir / (job.key + suffix) for job in jobs], out_dir / (key + suffix)
    if key in taken or not all(path.is_file() for path in pages):
        return False
    if final.is_file() and final.stat().st_mtime_ns >= max(path.stat().st_mtime_ns for path in pages):
        return False
    combined = pypdfium2.PdfDocument.new()
    try:
        for path in pages:
            page_pdf = pypdfium2.PdfDocument(str(path))
            try:
                combined.import_pages(page_pdf)
            finally:
                page_pdf.close()
        with atomic_path(final, tag) as tmp:
            combined.save(str(tmp))
    finally:
        combined.close()
    return True


def remove_temporaries(folders: set[Path], tag: str) -> None:
    """Delete this run's temporary files (a page interrupted while being written or not yet committed)."""
    for folder in folders:
        if folder.is_dir():
            for path in folder.glob(f".*.{tag}.part"):
                path.unlink(missing_ok=True)


def write_failures(path: Path, failures: list[Failure], in_dir: Path, tag: str) -> None:
    """failures.tsv: a header and one row per failed page (input under IN_DIR, page or empty, error)."""
    rows = ["input\tpage\terror"]
    for f in failures:
        rows.append("\t".join((f.input.relative_to(in_dir).as_posix(), "" if f.page is None else str(f.page),
                               " ".join(f.error.split()))))
    atomic_write(path, "\n".join(rows) + "\n", tag)
