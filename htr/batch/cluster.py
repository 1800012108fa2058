"""`htr batch --scheduler ADDRESS|local:N`: the pages read by the workers of a Dask cluster (``distributed``).

Each worker loads the models once (``ReaderPlugin``, set up again in a worker that joins or is restarted) and
reads pages with ``htr.batch.workers`` (``start``, ``read_job``, ``stop``), as a local batch does, writing every
output under this run's temporary names in the output folder, which the workers and this process must share (a
shared filesystem or an fsspec URL such as s3://, ``htr.batch.storage``). This process moves them into place and
appends the manifest line (``htr.batch.outputs.commit``), once per page finished, so a page is complete or absent
and never written twice. A worker keeps its copy of a multi-page input from object storage while it reads its
pages (``htr.batch.pages.LocalCopies``).

A worker lost mid-run (killed, out of memory) costs the pages it was reading one try each: the scheduler
reads them elsewhere. A page whose tries all killed their worker (the scheduler's
``distributed.scheduler.allowed-failures``, default 3, plus one) ends as Dask's KilledWorker and is listed as
failed. When the run ends (done, Ctrl-C, an error), pages not started are cancelled and a worker still reading
one removes its temporary files instead of leaving them.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from concurrent.futures import CancelledError
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from itertools import islice
from typing import Callable, Iterator

import dask
from distributed import Client, Event, KilledWorker, LocalCluster, WorkerPlugin, as_completed

from htr.batch import workers
from htr.batch.pages import Options, PageJob, PageResult
from htr.errors import HTRError, one_line

CRASH_ON = "HTR_TEST_CRASH_ON"  # tests: a worker reading the page with this key exits at once, as if killed
IN_FLIGHT = 1000  # pages submitted to the scheduler at a time: a million-page run stays a small graph
# Dask's nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536 (memory handed back to the system sooner);
# any fixed value turns off glibc's adaptive mmap threshold, and torch then maps and unmaps its large buffers
# for every layer of every page: reading is ~45% slower (measured: docs/benchmarks.md, "Batch on a Dask cluster"). A local cluster's workers start
# without it; workers of a cluster started elsewhere are checked for it (``_slow_workers``).
SLOW_MALLOC = "MALLOC_TRIM_THRESHOLD_"
NANNY_ENVIRON = {f"distributed.nanny.pre-spawn-environ.{SLOW_MALLOC}": None}


def local_workers(scheduler: str) -> int | None:
    """N of ``local:N``; None for a scheduler's address."""
    return int(scheduler.split(":", 1)[1]) if scheduler.startswith("local:") else None


class ReaderPlugin(WorkerPlugin):
    """Loads the models once per worker process; ``local``: Ctrl-C is this process's to handle, not the
    workers' (they share its terminal)."""

    def __init__(self, options: Options, local: bool):
        self.options, self.local = options, local

    async def setup(self, worker) -> None:
        if self.local and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name in ("profile", "profile-cycle"):  # Dask's sampling profiler: ~7% of a page's time
            if name in worker.periodic_callbacks:
                worker.periodic_callbacks[name].stop()
        error = await asyncio.to_thread(workers.start_or_record, self.options)  # the worker answers meanwhile
        if error:  # and reported by the pages sent to this worker
            raise HTRError(error)

    def teardown(self, worker) -> None:
        workers.stop(self.options)  # not a later run's


def read_page(job: PageJob, tag: str) -> PageResult:
    """The task: ``read_job`` on a worker. Outputs written after the run ended are removed again."""
    if os.environ.get(CRASH_ON) == job.key:
        os._exit(1)
    options = workers.running()
    if options is not None and options.tag != tag:
        return PageResult(job, fatal="another `htr batch` run took over this cluster's workers: "
                                     "one run at a time")
    result = workers.read_job(job)
    if result.outputs and _run_ended(tag):
        for tmp, _ in result.outputs:
            options.out_dir.remove(tmp)  # (htr batch may have removed it already)
        result.outputs = []
    return result


def _stop_event(tag: str) -> str:
    return f"htr-batch-ended-{tag}"


def _run_ended(tag: str) -> bool:
    try:
        return Event(_stop_event(tag)).is_set()
    except Exception:  # the scheduler is gone: so is the run
        return True


def _absolute(path):
    return None if path is None else os.path.abspath(path)


def _connect(scheduler: str, n: int | None, stack: ExitStack) -> Client:
    """A client of the scheduler at ``scheduler``, or of a local cluster of ``n`` worker processes."""
    try:
        if n is None:
            return stack.enter_context(Client(scheduler))
        # One page per worker thread at a time: a worker's death then counts against the page it was reading
        # only, not one queued behind it. The nanny's MALLOC_TRIM_THRESHOLD_ left unset (NANNY_ENVIRON).
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0, **NANNY_ENVIRON}):
            cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.CRITICAL))
        return stack.enter_context(Client(cluster))
    except Exception as err:
        what = "reach" if n is None else "start"
        raise HTRError(f"cannot {what} the Dask cluster {scheduler} ({one_line(err)})") from err


def _environment_variable(name: str) -> str | None:
    """The worker's own value (``os.environ.get`` itself would be pickled with this process's environment)."""
    return os.environ.get(name)


def _slow_workers(client: Client) -> int:
    """How many workers run with SLOW_MALLOC in their environment."""
    try:
        found = client.run(_environment_variable, SLOW_MALLOC)
    except Exception:  # a worker that cannot answer: it is not this check's to report
        return 0
    return sum(value is not None for value in found.values())


def _outcome(future, job: PageJob) -> PageResult:
    try:
        return future.result()
    except KilledWorker as err:
        return PageResult(job, error=f"a worker died reading this page ({err.allowed_failures + 1} tries)")
    except CancelledError as err:
        raise HTRError(f"the Dask scheduler dropped the run ({one_line(err)})") from err
    except Exception as err:
        return PageResult(job, error=one_line(err, job.input))


def _finished(client: Client, jobs: list[PageJob], tag: str, pending: dict) -> Iterator[PageResult]:
    """Submit the jobs, IN_FLIGHT at a time, and yield their results as they finish."""
    todo = iter(jobs)
    finished = as_completed()

    def submit(count: int) -> None:
        for job in islice(todo, count):
            future = client.submit(read_page, job, tag, key=f"htr-{tag}-{job.key}", pure=False)
            pending[future] = job
            finished.add(future)

    submit(IN_FLIGHT)
    for future in finished:
        job = pending.pop(future)
        submit(1)
        yield _outcome(future, job)


def _end(client: Client, pending: dict, plugin: str, tag: str) -> None:
    """Cancel the pages not read, have those being read drop their outputs, unload the models."""
    if client.status != "running":  # the scheduler is gone
        return
    for step in (lambda: client.cancel(list(pending)), lambda: Event(_stop_event(tag), client=client).set(),
                 lambda: client.unregister_worker_plugin(plugin)):
        with suppress(Exception):
            step()


@contextmanager
def cluster_results(jobs: list[PageJob], options: Options, scheduler: str,
                    log: Callable[[str], None] = print) -> Iterator[Iterator[PageResult]]:
    """``htr.batch.workers.page_results`` on a Dask cluster: a scheduler's address (``tcp://HOST:8786``) or
    ``local:N`` (N worker processes started here). The workers get absolute paths of weights (they may run
    elsewhere) and, for ``local:N``, cpu_count / N torch threads each unless the options name a number;
    elsewhere their environment's (Dask's nanny sets OMP_NUM_THREADS=1). ``log``: the cluster's size and
    warnings, a line each. Leaving the block ends the run on the cluster (a local one is stopped)."""
    n = local_workers(scheduler)
    if n is not None:
        n = max(1, min(n, len(jobs)))  # no idle processes
    reader = options.reader
    threads = reader.threads or (max(1, (os.cpu_count() or 1) // n) if n else None)
    options = replace(options, reader=replace(reader, det_weights=_absolute(reader.det_weights),
                                              rec_weights=_absolute(reader.rec_weights), lm=_absolute(reader.lm),
                                              threads=threads))
    pending: dict = {}
    plugin = f"htr-reader-{options.tag}"
    with ExitStack() as stack:
        client = _connect(scheduler, n, stack)
        stack.callback(_end, client, pending, plugin, options.tag)
        try:
            client.register_plugin(ReaderPlugin(options, local=n is not None), name=plugin)
        except Exception as err:  # a worker's setup: the models cannot be loaded
            raise HTRError(one_line(err)) from err
        threads = client.nthreads()
        log(f"htr batch: Dask cluster {client.scheduler.address}: {len(threads)} workers, "
            f"{sum(threads.values())} threads")
        slow = _slow_workers(client)
        if slow:
            log(f"htr batch: warning: {slow} of the workers run with {SLOW_MALLOC} set (Dask's nanny sets it), "
                f"which makes reading ~45% slower; start them with "
                f"DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__{SLOW_MALLOC}=None")
        yield _finished(client, jobs, options.tag, pending)
