"""The processes that read a batch's pages: each loads the models once (``start``) and reads jobs
(``read_job``), writing the outputs under temporary names. ``page_results`` runs them in this process or a spawn
pool; ``htr.batch.cluster`` runs them on Dask's workers through the same functions (``start``, ``start_or_record``,
``running``, ``stop``, ``read_job``), the only door to this process's worker state."""
from __future__ import annotations

import multiprocessing
import posixpath
import resource
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from htr.batch.outputs import write_outputs
from htr.batch.pages import LocalCopies, Options, PageJob, PageResult, load_page
from htr.errors import HTRError, one_line


@dataclass
class Worker:
    """A process's Reader, the run's options and its local copies of the inputs."""
    options: Options
    reader: object  # htr.pipeline.Reader
    copies: LocalCopies

    def read(self, job: PageJob) -> PageResult:
        """Read one page and write its outputs (temporary names). Never raises, except KeyboardInterrupt: a
        failure is the result's ``error``."""
        options = self.options
        start = time.perf_counter()
        try:
            image = load_page(options.in_dir, job, self.copies)
            page = self.reader.read(image, source=posixpath.basename(job.input))
            outputs = write_outputs(page, job, options, image)
        except Exception as err:
            return PageResult(job, error=one_line(err, options.in_dir.url(job.input)))
        confidences = [ln.confidence for ln in page.lines if ln.confidence is not None]
        return PageResult(job, outputs, seconds=round(time.perf_counter() - start, 3), lines=len(page.lines),
                          words=sum(1 for _ in page.words()),
                          mean_confidence=round(float(np.mean(confidences)), 4) if confidences else None,
                          peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                          warnings=list(page.warnings))


_worker: Worker | None = None  # this process's
_fatal: str | None = None  # why this process could not start one


def start(options: Options, reader=None) -> None:
    """Load the models once for this process (``reader``: an already loaded ``htr.pipeline.Reader`` instead);
    HTRError when they cannot be loaded."""
    global _worker, _fatal
    stop()
    if reader is None:
        from htr.pipeline import Reader

        try:
            reader = Reader(options.reader)
        except HTRError:
            raise
        except Exception as err:
            raise HTRError(f"cannot load the models ({one_line(err)})") from err
    _worker, _fatal = Worker(options, reader, LocalCopies(options.in_dir)), None


def start_or_record(options: Options) -> str | None:
    """``start``, its failure kept (and returned) for ``read_job`` to report with every page instead of
    raised: a pool initializer that raises has the pool start workers forever."""
    global _fatal
    try:
        start(options)
    except Exception as err:
        _fatal = one_line(err)
    return _fatal


def running() -> Options | None:
    """The options of the run this process reads pages for (None: none)."""
    return _worker.options if _worker is not None else None


def stop(options: Options | None = None) -> None:
    """Unload the models and drop the local copies (``options``: only when they are that run's)."""
    global _worker
    if _worker is not None and (options is None or _worker.options == options):
        _worker.copies.close()
        _worker = None


def read_job(job: PageJob) -> PageResult:
    """``Worker.read`` with this process's worker."""
    if _worker is None:
        return PageResult(job, fatal=_fatal or "worker not initialised")
    return _worker.read(job)


def _init_pool_worker(options: Options) -> None:
    """Pool initializer: Ctrl-C is the main process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    start_or_record(options)


@contextmanager
def page_results(jobs: list[PageJob], options: Options, workers: int, reader=None) -> Iterator[Iterator[PageResult]]:
    """Results of ``read_job`` for every job: in this process for 1 worker (with ``reader`` when given), else
    from a spawn pool (as they finish). Leaving the block stops the workers, finished or not."""
    if workers <= 1 or len(jobs) <= 1:
        start(options, reader)
        try:
            yield map(read_job, jobs)
        finally:
            stop(options)
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
