"""`htr batch IN_DIR OUT_DIR`: every page image, multi-page TIFF and PDF of a folder read into documents;
resumable, failures listed, a manifest line per page. The reading itself is ``htr.batch`` (on a Dask cluster,
``htr.cluster``)."""
from __future__ import annotations

import argparse
import os
import posixpath
import signal
import sys
import threading
import time
from collections import Counter

from htr.batch import (EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, FAILURES, MANIFEST, Failure, Manifest, Options,
                       combine_pdf, commit, find_pages, interrupts_deferred, is_done, page_results,
                       remove_temporaries, write_failures)
from htr.cli.options import add_pipeline_weights, add_runtime, lang_codes, lm_path, positive_int
from htr.errors import HTRError, one_line
from htr.files import unique_tag
from htr.formats import FORMATS, REGISTRY
from htr.imageio import IMAGE_SUFFIXES, PDF_DPI, PDF_MAX_SIDE
from htr.storage import Folder

DEFAULT_FORMATS = ("page",)
OUTPUTS = "\n".join(f"  {'KEY' + f.suffix:<18}{f.title:<20}"
                    f"({'--formats ' + f.name + ', the default' if (f.name,) == DEFAULT_FORMATS else f.name})"
                    for f in REGISTRY.values())

EPILOG = f"""\
outputs (KEY: the input's path under IN_DIR without its suffix; the pages of a PDF
or a multi-page TIFF get _p0001, _p0002, ... added):
{OUTPUTS}
                    and with pdf, a PDF or multi-page TIFF gets one more, of all
                    its pages (KEY without _pNNNN), once its page PDFs all exist
  {MANIFEST}    one JSON line appended per page finished: input, page, outputs,
                    seconds, lines, words, mean_confidence, peak_rss_mb (of the
                    process that read it), warnings (e.g. writing on the page
                    but no line found); on object storage, stored whole every
                    minute and when the run ends
  {FAILURES}      the pages that failed in the latest run: input, page, error

inputs: {' '.join(IMAGE_SUFFIXES)} and .pdf (any case), recursively;
PDF pages are rendered at {PDF_DPI} dpi (at most {PDF_MAX_SIDE} px on the long side). Hidden files and
folders (names starting with '.') and OUT_DIR itself are not read.

storage: IN_DIR and OUT_DIR are local folders or fsspec URLs: s3://BUCKET/PREFIX
(pip install s3fs; credentials and endpoint as s3fs takes them, e.g. AWS_PROFILE,
FSSPEC_S3_ENDPOINT_URL), gs:// (gcsfs), file:///abs/path, ...

resuming: every output is written under a temporary name and moved into place, so
it is complete or absent. A page whose outputs all exist is skipped: after Ctrl-C (or
a crash) the same command does only the rest. Delete a page's outputs to redo it.

exit codes:
  0    every page done (or already done)
  1    fatal error: IN_DIR missing, no inputs found, models not loadable
  3    partial failure: some pages failed (listed in OUT_DIR/{FAILURES}); the rest are done
  130  interrupted (Ctrl-C or SIGTERM); finished pages are kept, temporary files removed
"""


def parse_formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(unknown) or text!r}; "
                                         f"a comma list of {', '.join(FORMATS)}")
    return formats


def parse_scheduler(text: str) -> str:
    if "://" in text:
        return text
    name, _, count = text.partition(":")
    if name == "local" and count.isdigit() and int(count) >= 1:
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: a Dask scheduler's address (tcp://HOST:PORT) or local:N")


def results_of(args):
    """``page_results`` for ``--workers``, or ``cluster_results`` for ``--scheduler`` (Dask)."""
    if not args.scheduler:
        return lambda jobs, options: page_results(jobs, options, args.workers)
    try:
        from htr.cluster import cluster_results
    except ImportError as err:
        if err.name not in ("dask", "distributed"):
            raise
        raise HTRError("--scheduler needs Dask's distributed: pip install 'htr[cluster]'") from err
    return lambda jobs, options: cluster_results(jobs, options, args.scheduler)


def register(commands) -> None:
    p = commands.add_parser(
        "batch", help="read a folder of page images, TIFFs and PDFs into documents (resumable)",
        description="Read every page image, multi-page TIFF and PDF under IN_DIR (recursively) and write\n"
                    "its text, lines and words to OUT_DIR, mirroring the input tree. Resumable; a page that\n"
                    "fails is recorded and the run goes on.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("in_dir", metavar="IN_DIR",
                   help="folder (or fsspec URL) of page images, TIFFs and PDFs (read recursively)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="output folder or fsspec URL (created; may be inside IN_DIR)")
    p.add_argument("--formats", type=parse_formats, default=DEFAULT_FORMATS, metavar="LIST",
                   help=f"comma list of output formats: {', '.join(FORMATS)} (default: {','.join(DEFAULT_FORMATS)})")
    parallel = p.add_mutually_exclusive_group()
    parallel.add_argument("--workers", type=positive_int, default=1, metavar="N",
                          help="processes reading pages in parallel, each loading the models (default: 1, in "
                               "this process); each uses cpu_count / N torch threads")
    parallel.add_argument("--scheduler", type=parse_scheduler, metavar="ADDRESS",
                          help="read the pages on a Dask cluster: a running scheduler's address "
                               "(tcp://HOST:8786; IN_DIR and OUT_DIR on storage the workers share) or "
                               "local:N (N worker processes started here); needs pip install 'htr[cluster]'")
    add_pipeline_weights(p)
    add_runtime(p)
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no line per failed page (failures.tsv still lists them)")
    p.set_defaults(func=run)


def _describe(job_or_failure) -> str:
    name = job_or_failure.input
    return name if job_or_failure.page is None else f"{name} page {job_or_failure.page}"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    """Run a batch; the exit code (0 done, 3 some pages failed, 130 interrupted). HTRError when fatal.
    SIGTERM (a scheduler's stop) ends the run as cleanly as Ctrl-C."""
    from tqdm import tqdm

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)

    in_dir, out_dir, formats = Folder.at(args.in_dir), Folder.at(args.out_dir), tuple(args.formats)
    results = results_of(args)
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
    skipped = len(jobs) - len(todo)
    files = len({job.input for job in jobs})
    unreadable = f", {len(failures)} unreadable" if failures else ""
    print(f"htr batch: {len(jobs)} pages found in {files} files{unreadable}; {skipped} already done, skipped; "
          f"{len(todo)} to read", file=sys.stderr)
    options = Options(in_dir=in_dir, out_dir=out_dir, formats=formats, tag=unique_tag(),
                      det_weights=args.det_weights, rec_weights=args.rec_weights, beam=args.beam,
                      lm=lm_path(args), lang=lang_codes(args),
                      threads=max(1, (os.cpu_count() or 1) // args.workers), runtime=args.runtime,
                      precision=args.precision)
    quiet = args.quiet
    for failure in failures:
        if not quiet:
            print(f"htr: failed: {_describe(failure)}: {failure.error}", file=sys.stderr)
    groups: dict[str, list] = {}  # with PDF output, the pages of each PDF and multi-page TIFF, to combine
    for job in jobs if "pdf" in formats else ():
        if job.page is not None:
            groups.setdefault(job.input, []).append(job)
    left, keys, combined = Counter(job.input for job in todo), {job.key for job in jobs}, 0

    def combine(group) -> None:  # the input's combined PDF, when its page PDFs all exist and it is stale
        nonlocal combined
        try:
            combined += combine_pdf(group, out_dir, options.tag, keys)
        except Exception as err:  # OSError, pypdfium2's PdfiumError: recorded, the run goes on
            failed = Failure(group[0].input, None, f"cannot write the combined PDF ({one_line(err)})")
            failures.append(failed)
            if not quiet:
                bar.write(f"htr: failed: {_describe(failed)}: {failed.error}", file=sys.stderr)

    done, warned, interrupted, start = 0, 0, False, time.perf_counter()
    bar = tqdm(total=len(todo), unit="page", disable=quiet or not todo, file=sys.stderr, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}]")
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
                            done += 1
                            warned += bool(result.warnings)
                            for warning in result.warnings if not quiet else ():
                                bar.write(f"htr: warning: {_describe(result.job)}: {warning}", file=sys.stderr)
                        except OSError as err:
                            result.error = f"cannot write the outputs ({one_line(err)})"
                    if result.error:
                        failures.append(Failure(result.job.input, result.job.page, result.error))
                        if not quiet:
                            bar.write(f"htr: failed: {_describe(result.job)}: {result.error}", file=sys.stderr)
                    bar.update()
                    left[result.job.input] -= 1
                    if result.job.input in groups and not left[result.job.input]:
                        combine(groups[result.job.input])  # its last page of this run
        for group in groups.values():  # inputs whose pages were all done already (resuming)
            combine(group)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        remove_temporaries(out_dir, {""} | {posixpath.dirname(job.key) for job in todo}, options.tag)
    write_failures(out_dir, failures, options.tag)
    seconds = time.perf_counter() - start
    written = f", {combined} combined PDF{'s' * (combined != 1)} written" if combined else ""
    written += f", {warned} with warnings (in the manifest)" if warned else ""
    print(f"htr batch: {done} done, {skipped} skipped, {len(failures)} failed{written}"
          f"{', interrupted' if interrupted else ''} in {seconds:.1f} s ({done / max(seconds, 1e-9):.2f} pages/s)"
          f"{f'; failures in {out_dir.url(FAILURES)}' if failures else ''}", file=sys.stderr)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_PARTIAL if failures else EXIT_OK
