"""`htr batch IN_DIR OUT_DIR`: read every page image, multi-page TIFF and PDF of a folder into documents.

Every page under IN_DIR (recursively) gets a key, its path under IN_DIR without the suffix (plus
``_p0001``, ``_p0002``, ... for the pages of a PDF or a multi-page TIFF), and its outputs in OUT_DIR, which
mirrors the input tree: KEY.page.xml, KEY.alto.xml, KEY.hocr, KEY.txt and KEY.json, as ``--formats`` asks.
Every file is written under a temporary name beside its final one and renamed into place, so an output is
either complete or absent.

Resuming: a page whose outputs all exist is skipped, so the same command run again after an interruption
(Ctrl-C stops a run cleanly: finished pages stay, this run's temporary files are removed) does only the rest.
A page that cannot be read never stops the run: OUT_DIR/failures.tsv lists the failed pages of the latest
run (input, page, error), and OUT_DIR/manifest.jsonl gets one JSON line per page finished.

Exit codes: 0 every page done (or already done); 1 fatal error (IN_DIR missing, no inputs found, models
that cannot be loaded); 3 partial failure: some pages failed (see failures.tsv), the others are done;
130 interrupted.

With ``--workers N`` above 1, N processes ("spawn") each load the models once and read pages in parallel;
with 1 worker the pages are read in this process, by the same functions.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from htr.errors import HTRError, ImageError
from htr.formats import FORMATS, write_document
from htr.imageio import load_image
from htr.paths import DEFAULT_LM
from htr.recognition.decode import DEFAULT_BEAM
from htr.recognition.command import add_decoding_options, lang_codes, lm_path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".jp2")
TIFF_SUFFIXES = (".tif", ".tiff")
PDF_SUFFIX = ".pdf"
OUTPUT_SUFFIXES = {"page": ".page.xml", "alto": ".alto.xml", "hocr": ".hocr", "text": ".txt", "json": ".json"}
PDF_DPI = 200
PDF_MAX_SIDE = 3000  # pixels on a rendered PDF page's long side, at most
MANIFEST = "manifest.jsonl"
FAILURES = "failures.tsv"

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130

EPILOG = f"""\
outputs (KEY: the input's path under IN_DIR without its suffix; the pages of a PDF
or a multi-page TIFF get _p0001, _p0002, ... added):
  KEY.page.xml      PAGE-XML 2019       (--formats page, the default)
  KEY.alto.xml      ALTO v4             (alto)
  KEY.hocr          hOCR                (hocr)
  KEY.txt           plain text          (text)
  KEY.json          htr JSON            (json)
  {MANIFEST}    one JSON line appended per page finished: input, page, outputs,
                    seconds, lines, words, mean_confidence, peak_rss_mb (of the
                    process that read it)
  {FAILURES}      the pages that failed in the latest run: input, page, error

inputs: {' '.join(IMAGE_SUFFIXES)} and .pdf (any case), recursively;
PDF pages are rendered at {PDF_DPI} dpi (at most {PDF_MAX_SIDE} px on the long side). Hidden files and
folders (names starting with '.') and OUT_DIR itself are not read.

resuming: every output is written under a temporary name and renamed into place, so
it is complete or absent. A page whose outputs all exist is skipped: after Ctrl-C (or
a crash) the same command does only the rest. Delete a page's outputs to redo it.

exit codes:
  0    every page done (or already done)
  1    fatal error: IN_DIR missing, no inputs found, models not loadable
  3    partial failure: some pages failed (listed in OUT_DIR/{FAILURES}); the rest are done
  130  interrupted (Ctrl-C or SIGTERM); finished pages are kept, temporary files removed
"""


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


# ------------------------------------------------------------------------------------------------ inputs

def one_line(err: BaseException | str, path: Path | None = None) -> str:
    """An error as one line: HTRError messages as they are, others prefixed with their type; a leading
    "``path``: " is dropped (failures.tsv names the input in its own column)."""
    text = str(err) if isinstance(err, (str, HTRError)) else f"{type(err).__name__}: {err}"
    text = " ".join(text.split()) or type(err).__name__
    prefix = f"{path}: "
    return text[len(prefix):] if path is not None and text.startswith(prefix) else text


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


def page_count(path: Path) -> int | None:
    """Pages of a PDF or TIFF, None for a single image. Raises ImageError for a PDF that cannot be opened;
    a TIFF whose frames cannot be counted counts as one image (reading it reports the error)."""
    suffix = path.suffix.lower()
    if suffix == PDF_SUFFIX:
        pdf = _open_pdf(path)
        try:
            if len(pdf) == 0:
                raise ImageError(f"{path}: PDF has no pages")
            return len(pdf)
        finally:
            pdf.close()
    if suffix in TIFF_SUFFIXES:
        try:
            with Image.open(path) as im:
                frames = int(getattr(im, "n_frames", 1))
        except Exception:
            return None
        return frames if frames > 1 else None
    return None


def _open_pdf(path: Path):
    """The PDF as a pypdfium2 document (close it); ImageError when it cannot be opened."""
    try:
        import pypdfium2
    except ImportError as err:
        raise ImageError(f"{path}: reading PDF needs pypdfium2 (pip install pypdfium2)") from err
    try:
        return pypdfium2.PdfDocument(str(path))
    except Exception as err:
        raise ImageError(f"{path}: cannot open PDF ({one_line(err)})") from err


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
    return [out_dir / (key + OUTPUT_SUFFIXES[fmt]) for fmt in formats]


def is_done(job: PageJob, out_dir: Path, formats: tuple[str, ...]) -> bool:
    return all(path.is_file() for path in output_paths(out_dir, job.key, formats))


def render_pdf_page(path: Path, number: int, dpi: int = PDF_DPI, max_side: int = PDF_MAX_SIDE) -> Image.Image:
    """Page ``number`` (1-based) of a PDF as an RGB PIL image at ``dpi``, at most ``max_side`` pixels long."""
    pdf = _open_pdf(path)
    try:
        page = pdf[number - 1]
        try:
            width, height = page.get_size()  # points, 1/72 inch
            scale = min(dpi / 72, max_side / max(width, height, 1.0))
            return page.render(scale=scale).to_pil().convert("RGB")
        finally:
            page.close()
    except Exception as err:
        raise ImageError(f"{path}: cannot render PDF page {number} ({one_line(err)})") from err
    finally:
        pdf.close()


def load_page(job: PageJob) -> np.ndarray:
    """The job's page as an RGB array; ImageError when it cannot be read."""
    if job.page is None:
        return load_image(job.input)
    if job.input.suffix.lower() == PDF_SUFFIX:
        return load_image(render_pdf_page(job.input, job.page))
    try:
        with Image.open(job.input) as im:
            im.seek(job.page - 1)
            frame = im.copy()
    except Exception as err:
        raise ImageError(f"{job.input}: cannot decode page {job.page} ({one_line(err)})") from err
    return load_image(frame)


# ------------------------------------------------------------------------------------------------ workers

_state: dict = {}  # this process's Reader and Options


def init_worker(options: Options) -> None:
    """Load the models once for this process (in-process runs call it directly: errors propagate)."""
    from htr.pipeline import Reader

    _state.clear()
    try:
        reader = Reader(options.det_weights, options.rec_weights, threads=options.threads, beam=options.beam,
                        lm=options.lm, lang=options.lang)
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


def temporary_path(final: Path, tag: str) -> Path:
    return final.with_name(f".{final.name}.{tag}.part")


def write_outputs(page, job: PageJob, options: Options) -> list[tuple[str, str]]:
    """Write the page in every format under temporary names beside the final ones; (temporary, final)."""
    written: list[tuple[str, str]] = []
    try:
        for fmt, final in zip(options.formats, output_paths(options.out_dir, job.key, options.formats)):
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = temporary_path(final, options.tag)
            written.append((str(tmp), str(final)))
            tmp.write_text(write_document(page, fmt), encoding="utf-8")
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
        page = _state["reader"].read(load_page(job), source=job.input.name)
        outputs = write_outputs(page, job, _state["options"])
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
    tmp = temporary_path(path, tag)
    tmp.write_text("\n".join(rows) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _describe(job_or_failure, in_dir: Path) -> str:
    name = job_or_failure.input.relative_to(in_dir).as_posix()
    return name if job_or_failure.page is None else f"{name} page {job_or_failure.page}"


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(unknown) or text!r}; "
                                         f"a comma list of {', '.join(FORMATS)}")
    return formats


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.description = ("Read every page image, multi-page TIFF and PDF under IN_DIR (recursively) and write\n"
                     "its text, lines and words to OUT_DIR, mirroring the input tree. Resumable; a page that\n"
                     "fails is recorded and the run goes on.")
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("in_dir", metavar="IN_DIR", help="folder of page images, TIFFs and PDFs (read recursively)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder (created; may be inside IN_DIR)")
    p.add_argument("--formats", type=parse_formats, default=("page",), metavar="LIST",
                   help=f"comma list of output formats: {', '.join(FORMATS)} (default: page)")
    p.add_argument("--workers", type=positive_int, default=1, metavar="N",
                   help="processes reading pages in parallel, each loading the models (default: 1, in this "
                        "process); each uses cpu_count / N torch threads")
    p.add_argument("--det-weights", help="detector weights (default: the shipped htr/weights/det.pt)")
    p.add_argument("--rec-weights", help="recogniser weights (default: the shipped htr/weights/rec.pt)")
    add_decoding_options(p)
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no line per failed page (failures.tsv still lists them)")
    return p


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    """Run a batch; the exit code (0 done, 3 some pages failed, 130 interrupted). HTRError when fatal.
    SIGTERM (a scheduler's stop) ends the run as cleanly as Ctrl-C."""
    from tqdm import tqdm

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)

    in_dir, out_dir, formats = Path(args.in_dir), Path(args.out_dir), tuple(args.formats)
    if not in_dir.is_dir():
        raise HTRError(f"{in_dir}: {'not a folder' if in_dir.exists() else 'no such folder'}")
    jobs, failures = find_pages(in_dir, out_dir)
    if not jobs and not failures:
        raise HTRError(f"{in_dir}: no images ({', '.join(IMAGE_SUFFIXES)}) or PDFs found")
    todo = [job for job in jobs if not is_done(job, out_dir, formats)]
    skipped = len(jobs) - len(todo)
    files = len({job.input for job in jobs})
    unreadable = f", {len(failures)} unreadable" if failures else ""
    print(f"htr batch: {len(jobs)} pages found in {files} files{unreadable}; {skipped} already done, skipped; "
          f"{len(todo)} to read", file=sys.stderr)
    out_dir.mkdir(parents=True, exist_ok=True)
    options = Options(out_dir=out_dir, formats=formats, tag=f"{os.getpid()}-{uuid.uuid4().hex[:8]}",
                      det_weights=args.det_weights, rec_weights=args.rec_weights, beam=args.beam, lm=lm_path(args),
                      lang=lang_codes(args),
                      threads=max(1, (os.cpu_count() or 1) // args.workers))
    quiet = args.quiet
    for failure in failures:
        if not quiet:
            print(f"htr: failed: {_describe(failure, in_dir)}: {failure.error}", file=sys.stderr)
    done, interrupted, start = 0, False, time.perf_counter()
    bar = tqdm(total=len(todo), unit="page", disable=quiet or not todo, file=sys.stderr, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]")
    try:
        if todo:
            with page_results(todo, options, args.workers) as results, \
                    open(out_dir / MANIFEST, "a", encoding="utf-8") as manifest:
                for result in results:
                    if result.fatal:
                        raise HTRError(result.fatal)
                    if not result.error:
                        try:
                            with interrupts_deferred():
                                commit(result, in_dir, out_dir, manifest)
                            done += 1
                        except OSError as err:
                            result.error = f"cannot write the outputs ({one_line(err)})"
                    if result.error:
                        failures.append(Failure(result.job.input, result.job.page, result.error))
                        if not quiet:
                            bar.write(f"htr: failed: {_describe(result.job, in_dir)}: {result.error}",
                                      file=sys.stderr)
                    bar.update()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        remove_temporaries({out_dir} | {(out_dir / job.key).parent for job in todo}, options.tag)
    write_failures(out_dir / FAILURES, failures, in_dir, options.tag)
    seconds = time.perf_counter() - start
    print(f"htr batch: {done} done, {skipped} skipped, {len(failures)} failed"
          f"{', interrupted' if interrupted else ''} in {seconds:.1f} s ({done / max(seconds, 1e-9):.2f} pages/s)"
          f"{f'; failures in {out_dir / FAILURES}' if failures else ''}", file=sys.stderr)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if failures else EXIT_OK
