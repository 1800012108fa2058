"""``htr.batch.run``: a batch from IN_DIR to OUT_DIR, start to end, and its ``Summary``."""
from __future__ import annotations

import os
import posixpath
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable

from htr.batch.outputs import (FAILURES, Manifest, combine_pdf, commit, interrupts_deferred, remove_temporaries,
                               write_failures)
from htr.batch.pages import Failure, Options, PageJob, find_pages, is_done
from htr.batch.storage import Folder
from htr.batch.workers import page_results
from htr.errors import HTRError, UsageError, one_line, plural
from htr.files import unique_tag
from htr.formats import FORMATS, format_name
from htr.imageio import IMAGE_SUFFIXES
from htr.options import ReaderOptions

EXIT_OK, EXIT_FATAL, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass
class Summary:
    """What a run did: pages ``found`` in ``files`` input files; ``done`` (read and written by this run),
    ``skipped`` (their outputs all there already), ``failed`` (pages and unreadable files, ``failures``, as in
    OUT_DIR/failures.tsv), ``flagged`` (done, with warnings in the manifest), ``combined`` PDFs written."""
    found: int = 0
    files: int = 0
    done: int = 0
    skipped: int = 0
    flagged: int = 0
    combined: int = 0
    seconds: float = 0.0
    interrupted: bool = False  # Ctrl-C or SIGTERM ended the run; finished pages are kept
    failures: list[Failure] = field(default_factory=list)
    failures_file: str = ""  # OUT_DIR/failures.tsv, as the user names it

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def exit_code(self) -> int:
        """`htr batch`'s: 0 every page done, 3 some failed, 130 interrupted."""
        return EXIT_INTERRUPTED if self.interrupted else EXIT_PARTIAL if self.failures else EXIT_OK

    def __str__(self) -> str:
        written = f", {self.combined} combined PDF{'s' * (self.combined != 1)} written" if self.combined else ""
        written += f", {self.flagged} with warnings (in the manifest)" if self.flagged else ""
        return (f"{self.done} done, {self.skipped} skipped, {self.failed} failed{written}"
                f"{', interrupted' if self.interrupted else ''} in {self.seconds:.1f} s "
                f"({self.done / max(self.seconds, 1e-9):.2f} pages/s)"
                f"{f'; failures in {self.failures_file}' if self.failures else ''}")


def describe(job: PageJob | Failure) -> str:
    return job.input if job.page is None else f"{job.input} page {job.page}"


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """Output formats, a comma list or names, checked; UsageError for an unknown one."""
    names = formats.split(",") if isinstance(formats, str) else formats
    names = tuple(dict.fromkeys(format_name(f) for f in names if f.strip()))  # txt: text
    unknown = [f for f in names if f not in FORMATS]
    if unknown or not names:
        raise UsageError(f"unknown format {', '.join(unknown) or repr(formats)}; a comma list of {', '.join(FORMATS)}")
    return names


def _results(scheduler: str | None, workers: int, reader, log):
    """``page_results`` for local workers, or ``cluster_results`` for a Dask scheduler."""
    if not scheduler:
        return lambda jobs, options: page_results(jobs, options, workers, reader)
    if reader is not None:
        raise UsageError("a loaded reader reads in this process: not with a Dask scheduler")
    try:
        from htr.batch.cluster import cluster_results
    except ImportError as err:
        if err.name not in ("dask", "distributed"):
            raise
        raise HTRError("a Dask scheduler needs Dask's distributed: pip install 'htr[cluster]'") from err
    return lambda jobs, options: cluster_results(jobs, options, scheduler, log)


def run(in_dir, out_dir, formats: str | Iterable[str] = ("page",), options: ReaderOptions | None = None, *,
        workers: int = 1, scheduler: str | None = None, reader=None, progress: bool = False,
        log: Callable[[str], None] | None = None) -> Summary:
    """Read every page image, multi-page TIFF and PDF under ``in_dir`` into documents in ``out_dir`` (local
    folders or fsspec URLs), in ``formats``; resumable: pages whose outputs exist are skipped. Returns the
    ``Summary``; HTRError when the run cannot start (no inputs, models that cannot be loaded).

    ``options``: the readers' (``htr.options.ReaderOptions``; threads default to cpu_count / ``workers``).
    ``workers``: processes reading pages (1: this one; ``reader``, a loaded ``htr.pipeline.Reader``, is used
    instead of loading the models). ``scheduler``: a Dask scheduler's address or ``local:N`` instead
    (``htr.batch.cluster``). ``log``: the run's notes, a line each (pages found, the cluster; with
    ``progress`` also each page that failed or has warnings). ``progress``: a progress bar on stderr.
    Ctrl-C (KeyboardInterrupt) ends the run cleanly: the summary says ``interrupted``."""
    from tqdm import tqdm

    formats, options = parse_formats(formats), options or ReaderOptions()
    if options.threads is None and not scheduler:
        options = replace(options, threads=max(1, (os.cpu_count() or 1) // max(1, workers)))
    in_dir, out_dir = Folder.at(in_dir), Folder.at(out_dir)

    def say(message: str) -> None:
        if log is not None:
            with tqdm.external_write_mode(file=sys.stderr):
                log(message)

    results = _results(scheduler, workers, reader, say)
    try:
        if not in_dir.is_folder():
            raise HTRError(f"{in_dir}: {'not a folder' if in_dir.exists() else 'no such folder'}")
        jobs, failures = find_pages(in_dir, out_dir)
        if not jobs and not failures:
            raise HTRError(f"{in_dir}: no images ({', '.join(IMAGE_SUFFIXES)}) or PDFs found")
        existing = out_dir.listing()
        out_dir.fs.makedirs(out_dir.path(), exist_ok=True)
    except OSError as err:  # the storage: a protocol's package missing, no access, the network
        raise HTRError(one_line(err)) from err
    todo = [job for job in jobs if not is_done(job, existing, formats)]
    summary = Summary(found=len(jobs), files=len({job.input for job in jobs}), skipped=len(jobs) - len(todo),
                      failures=failures, failures_file=out_dir.url(FAILURES))
    unreadable = f", {len(failures)} unreadable" if failures else ""
    say(f"htr batch: {plural(len(jobs), 'page')} found in {plural(summary.files, 'file')}{unreadable}; "
        f"{summary.skipped} already done, skipped; {len(todo)} to read")
    options = Options(in_dir=in_dir, out_dir=out_dir, formats=formats, tag=unique_tag(), reader=options)

    def failed(failure: Failure) -> None:
        failures.append(failure)
        if progress:
            say(f"htr: failed: {describe(failure)}: {failure.error}")

    for failure in list(failures) if progress else ():
        say(f"htr: failed: {describe(failure)}: {failure.error}")
    groups: dict[str, list] = {}  # with PDF output, the pages of each PDF and multi-page TIFF, to combine
    for job in jobs if "pdf" in formats else ():
        if job.page is not None:
            groups.setdefault(job.input, []).append(job)
    left, keys = Counter(job.input for job in todo), {job.key for job in jobs}

    def combine(group) -> None:  # the input's combined PDF, when its page PDFs all exist and it is stale
        try:
            summary.combined += combine_pdf(group, out_dir, options.tag, keys)
        except Exception as err:  # OSError, pypdfium2's PdfiumError: recorded, the run goes on
            failed(Failure(group[0].input, None, f"cannot write the combined PDF ({one_line(err)})"))

    start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="page", disable=not progress or not todo, file=sys.stderr,
               dynamic_ncols=True, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, "
                                              "{rate_noinv_fmt}]")
    try:
        if todo:
            with results(todo, options) as finished, Manifest(out_dir, options.tag) as manifest:
                for result in finished:
                    if result.fatal:
                        raise HTRError(result.fatal)
                    if not result.error:
                        try:
                            with interrupts_deferred():
                                commit(result, out_dir, manifest)
                            summary.done += 1
                            summary.flagged += bool(result.warnings)
                            for warning in result.warnings if progress else ():
                                say(f"htr: warning: {describe(result.job)}: {warning}")
                        except OSError as err:
                            result.error = f"cannot write the outputs ({one_line(err)})"
                    if result.error:
                        failed(Failure(result.job.input, result.job.page, result.error))
                    bar.update()
                    left[result.job.input] -= 1
                    if result.job.input in groups and not left[result.job.input]:
                        combine(groups[result.job.input])  # its last page of this run
        for group in groups.values():  # inputs whose pages were all done already (resuming)
            combine(group)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
        remove_temporaries(out_dir, {""} | {posixpath.dirname(job.key) for job in todo}, options.tag)
    write_failures(out_dir, failures, options.tag)
    summary.seconds = time.perf_counter() - start
    return summary
