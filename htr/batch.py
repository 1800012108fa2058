"""Reading every page image, multi-page TIFF and PDF of a folder into documents (`htr batch IN_DIR OUT_DIR`).

IN_DIR and OUT_DIR are local folders or fsspec URLs (``htr.storage``). Every page under IN_DIR (recursively)
gets a key, its path under IN_DIR without the suffix (plus ``_p0001``, ``_p0002``, ... for the pages of a PDF
or a multi-page TIFF), and its outputs in OUT_DIR, which mirrors the input tree: KEY.page.xml, KEY.alto.xml,
KEY.hocr, KEY.txt, KEY.json and KEY.pdf, as ``--formats`` asks; with PDF output a PDF or multi-page TIFF
also gets one PDF of all its pages (``combine_pdf``: its key without ``_pNNNN``), made from its page PDFs
once they all exist. Every file is written under a temporary name
beside its final one and moved into place, so an output is either complete or absent.

Resuming: a page whose outputs all exist is skipped, so the same command run again after an interruption
(Ctrl-C stops a run cleanly: finished pages stay, this run's temporary files are removed) does only the rest.
A page that cannot be read never stops the run: OUT_DIR/failures.tsv lists the failed pages of the latest
run (input, page, error), and OUT_DIR/manifest.jsonl gets one JSON line per page finished (``Manifest``).

Exit codes: 0 every page done (or already done); 1 fatal error (IN_DIR missing, no inputs found, models
that cannot be loaded); 3 partial failure: some pages failed (see failures.tsv), the others are done;
130 interrupted.

With ``--workers N`` above 1, N processes ("spawn") each load the models once and read pages in parallel;
with 1 worker the pages are read in this process, by the same functions. The command itself (its options,
the progress bar, the run loop) is ``htr.cli.batch``.
"""
from __future__ import annotations

import io
import json
import multiprocessing
import posixpath
import resource
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from htr.errors import HTRError, ImageError, one_line
from htr.formats import REGISTRY, write_document
from htr.imageio import IMAGE_SUFFIXES, PDF_SUFFIX, TIFF_SUFFIXES, load_page as load_image_page, page_count
from htr.paths import DEFAULT_LM
from htr.recognition.decode import DEFAULT_BEAM
from htr.runtime import DEFAULT_RUNTIME
from htr.storage import Folder, temporary_name

MANIFEST = "manifest.jsonl"
FAILURES = "failures.tsv"

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass(frozen=True)
class PageJob:
    """One page to read: ``input`` is its file's name under IN_DIR ('/'-separated), ``page`` its 1-based
    number in a PDF or multi-page TIFF, None for an image."""
    input: str
    page: int | None
    key: str  # output path under OUT_DIR without the format suffix, '/'-separated


@dataclass(frozen=True)
class Failure:
    input: str  # under IN_DIR
    page: int | None
    error: str  # one line


@dataclass
class PageResult:
    """What a worker did with a job: ``outputs`` are (temporary, final) names under OUT_DIR, moved into place
    by ``commit``."""
    job: PageJob
    outputs: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    lines: int = 0
    words: int = 0
    mean_confidence: float | None = None
    peak_rss_mb: float = 0.0  # the reading process's peak resident memory so far
    warnings: list[str] = field(default_factory=list)  # the page's (``Page.warnings``): kept in the manifest
    error: str | None = None  # the page failed
    fatal: str | None = None  # the worker could not load the models


@dataclass(frozen=True)
class Options:
    """What a worker needs to build its Reader, read pages and write outputs (picklable, sent to each worker)."""
    in_dir: Folder
    out_dir: Folder
    formats: tuple[str, ...]
    tag: str  # marks this run's temporary files
    det_weights: str | None = None
    rec_weights: str | None = None
    beam: int = DEFAULT_BEAM
    lm: str | Path | None = DEFAULT_LM
    lang: tuple[str, ...] | None = None
    threads: int | None = None
    runtime: str = DEFAULT_RUNTIME  # what runs the models: torch or onnx (htr.runtime)
    precision: str | None = None  # both models' (None: the default, htr.runtime)


# ------------------------------------------------------------------------------------------------ inputs

def input_files(in_dir: Folder, out_dir: Folder | None = None) -> list[str]:
    """Images, TIFFs and PDFs under ``in_dir`` (their names), sorted; hidden names and ``out_dir`` (when
    inside) left out."""
    return [name for name in in_dir.files(skip=out_dir) if name.lower().endswith((*IMAGE_SUFFIXES, PDF_SUFFIX))]


def find_pages(in_dir: Folder, out_dir: Folder | None = None) -> tuple[list[PageJob], list[Failure]]:
    """Every page under ``in_dir`` as a job, and the files that cannot even be opened (one failure each).

    Two files with one key (``a.jpg`` and ``a.png``) keep their suffix in it (``a.jpg``, ``a.png``)."""
    pages: list[tuple[str, int | None]] = []
    failures = []
    for name in input_files(in_dir, out_dir):
        try:
            count = count_pages(in_dir, name)
        except ImageError as err:
            failures.append(Failure(name, None, one_line(err, in_dir.url(name))))
            continue
        pages += [(name, None)] if count is None else [(name, n) for n in range(1, count + 1)]

    def key(name: str, page: int | None, keep_suffix: bool) -> str:
        name = name if keep_suffix else posixpath.splitext(name)[0]
        return name if page is None else f"{name}_p{page:04d}"

    keys = [key(name, page, False) for name, page in pages]
    seen: dict[str, str] = {}
    clashing = set()
    for (name, _), k in zip(pages, keys):
        if seen.setdefault(k, name) != name:
            clashing |= {name, seen[k]}
    jobs = [PageJob(name, page, key(name, page, name in clashing)) for name, page in pages]
    if len({job.key for job in jobs}) != len(jobs):
        raise HTRError(f"{in_dir}: input files whose output names clash even with their suffixes kept; rename them")
    return jobs, failures


def count_pages(in_dir: Folder, name: str) -> int | None:
    """``page_count`` of a file under ``in_dir`` (only PDFs and TIFFs are opened: an image is one page)."""
    if not name.lower().endswith((PDF_SUFFIX, *TIFF_SUFFIXES)):
        return None
    with _readable(in_dir, name) as path:
        return page_count(path)


@contextmanager
def _readable(in_dir: Folder, name: str) -> Iterator[str]:
    """A local path of the input ``name``; errors (ImageError) name the input as the user gave it."""
    url = in_dir.url(name)
    try:
        with in_dir.local_copy(name) as path:
            try:
                yield path
            except ImageError as err:
                if path == url:
                    raise
                raise ImageError(str(err).replace(path, url)) from err
    except FileNotFoundError as err:
        raise ImageError(f"{url}: no such file") from err
    except OSError as err:  # the storage: a network error, no access
        raise ImageError(f"{url}: cannot read file ({one_line(err)})") from err


def output_names(key: str, formats: tuple[str, ...]) -> list[str]:
    return [key + REGISTRY[fmt].suffix for fmt in formats]


def is_done(job: PageJob, existing: set[str], formats: tuple[str, ...]) -> bool:
    """Whether every output of the job is among ``existing`` (``Folder.listing`` of OUT_DIR)."""
    return all(name in existing for name in output_names(job.key, formats))


def load_page(in_dir: Folder, job: PageJob) -> np.ndarray:
    """The job's page as an RGB array; ImageError when it cannot be read."""
    with _readable(in_dir, job.input) as path:
        return load_image_page(path, job.page)


# ------------------------------------------------------------------------------------------------ workers

_state: dict = {}  # this process's Reader and Options


def init_worker(options: Options) -> None:
    """Load the models once for this process (in-process runs call it directly: errors propagate)."""
    from htr.pipeline import Reader

    _state.clear()
    try:
        reader = Reader(options.det_weights, options.rec_weights, threads=options.threads, beam=options.beam,
                        lm=options.lm, lang=options.lang, runtime=options.runtime, precision=options.precision)
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
        for fmt, final in zip(options.formats, output_names(job.key, options.formats)):
            tmp = temporary_name(final, options.tag)
            written.append((tmp, final))
            options.out_dir.write(tmp, write_document(page, fmt, image))
    except BaseException:
        for tmp, _ in written:
            options.out_dir.remove(tmp)
        raise
    return written


def read_job(job: PageJob) -> PageResult:
    """Read one page with this process's Reader and write its outputs (temporary names). Never raises,
    except KeyboardInterrupt: a failure is the result's ``error``."""
    if "reader" not in _state:
        return PageResult(job, fatal=_state.get("fatal", "worker not initialised"))
    options: Options = _state["options"]
    start = time.perf_counter()
    try:
        image = load_page(options.in_dir, job)
        page = _state["reader"].read(image, source=posixpath.basename(job.input))
        outputs = write_outputs(page, job, options, image)
    except Exception as err:
        return PageResult(job, error=one_line(err, options.in_dir.url(job.input)))
    confidences = [ln.confidence for ln in page.lines if ln.confidence is not None]
    return PageResult(job, outputs, seconds=round(time.perf_counter() - start, 3), lines=len(page.lines),
                      words=sum(1 for _ in page.words()),
                      mean_confidence=round(float(np.mean(confidences)), 4) if confidences else None,
                      peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      warnings=list(page.warnings))


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


class Manifest:
    """OUT_DIR/manifest.jsonl, a JSON line appended per page finished. In a local folder (or one of a shared
    filesystem) each line goes straight to the file. Object storage cannot append: the lines go to a local
    copy of the manifest, stored whole every ``UPLOAD_SECONDS`` and when the run ends (a run killed outright
    may then leave up to that many seconds of finished pages out of it; their outputs are complete)."""

    UPLOAD_SECONDS = 60.0

    def __init__(self, out_dir: Folder, tag: str):
        self.out_dir, self.tag = out_dir, tag
        if out_dir.local:
            self.copy = None
            self.file = open(out_dir.path(MANIFEST), "a", encoding="utf-8")
            return
        self.copy = tempfile.NamedTemporaryFile("w+b", prefix="htr-manifest-", suffix=".jsonl")
        if out_dir.fs.exists(out_dir.path(MANIFEST)):
            out_dir.fs.get_file(out_dir.path(MANIFEST), self.copy.name)
        self.file = open(self.copy.name, "a", encoding="utf-8")
        self.uploaded = time.monotonic()

    def add(self, record: dict) -> None:
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.file.flush()
        if self.copy is not None and time.monotonic() - self.uploaded > self.UPLOAD_SECONDS:
            self.upload()

    def upload(self) -> None:
        with open(self.copy.name, "rb") as copy:
            self.out_dir.write_atomic(MANIFEST, copy.read(), self.tag)
        self.uploaded = time.monotonic()

    def close(self) -> None:
        self.file.close()
        if self.copy is not None:
            try:
                self.upload()
            finally:
                self.copy.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def commit(result: PageResult, out_dir: Folder, manifest: Manifest) -> None:
    """Move a finished page's outputs into place and append its manifest line."""
    for tmp, final in result.outputs:
        out_dir.move(tmp, final)
    manifest.add({"input": result.job.input, "page": result.job.page,
                  "outputs": [final for _, final in result.outputs],
                  "seconds": result.seconds, "lines": result.lines, "words": result.words,
                  "mean_confidence": result.mean_confidence, "peak_rss_mb": result.peak_rss_mb,
                  "warnings": result.warnings})


def combine_pdf(jobs: list[PageJob], out_dir: Folder, tag: str, taken=frozenset()) -> bool:
    """Concatenate the page PDFs of one PDF or multi-page TIFF (``jobs``: its pages) in page order into
    OUT_DIR/KEY.pdf, KEY being the page keys without ``_pNNNN``; written under a temporary name and moved,
    so it is complete or absent. False (nothing written) when a page's PDF is missing, when KEY is in
    ``taken`` (another input's page key: that page's own KEY.pdf) or when KEY.pdf is up to date (newer than
    every page PDF)."""
    import pypdfium2

    jobs = sorted(jobs, key=lambda job: job.page)
    key, suffix = jobs[0].key.rsplit("_p", 1)[0], REGISTRY["pdf"].suffix
    pages, final = [job.key + suffix for job in jobs], key + suffix
    if key in taken or not all(out_dir.fs.isfile(out_dir.path(name)) for name in pages):
        return False
    if out_dir.fs.isfile(out_dir.path(final)) and \
            out_dir.modified(final) >= max(out_dir.modified(name) for name in pages):
        return False
    combined = pypdfium2.PdfDocument.new()
    try:
        for name in pages:
            page_pdf = pypdfium2.PdfDocument(out_dir.read_bytes(name))
            try:
                combined.import_pages(page_pdf)
            finally:
                page_pdf.close()
        data = io.BytesIO()
        combined.save(data)
        out_dir.write_atomic(final, data.getvalue(), tag)
    finally:
        combined.close()
    return True


def remove_temporaries(out_dir: Folder, folders: set[str], tag: str) -> None:
    """Delete this run's temporary files (a page interrupted while being written or not yet committed) from
    ``folders`` of OUT_DIR ('' for OUT_DIR itself)."""
    for folder in folders:
        for name in out_dir.glob(posixpath.join(folder, f".*.{tag}.part")):
            out_dir.remove(name)


def write_failures(out_dir: Folder, failures: list[Failure], tag: str) -> None:
    """failures.tsv: a header and one row per failed page (input under IN_DIR, page or empty, error)."""
    rows = ["input\tpage\terror"]
    for f in failures:
        rows.append("\t".join((f.input, "" if f.page is None else str(f.page), " ".join(f.error.split()))))
    out_dir.write_atomic(FAILURES, "\n".join(rows) + "\n", tag)
