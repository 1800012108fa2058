"""`htr batch IN_DIR OUT_DIR`: every page image, multi-page TIFF and PDF of a folder read into documents;
resumable, failures listed, a manifest line per page. A thin shell over ``htr.batch.run``."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from htr.batch.outputs import FAILURES, MANIFEST
from htr.cli.options import add_reader_options, positive_int, reader_options
from htr.errors import HTRError
from htr.formats import FORMATS, REGISTRY
from htr.imageio import IMAGE_SUFFIXES, PDF_DPI, PDF_MAX_SIDE

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
    from htr.batch.runner import parse_formats as checked

    try:
        return checked(text)
    except HTRError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def parse_scheduler(text: str) -> str:
    if "://" in text:
        return text
    name, _, count = text.partition(":")
    if name == "local" and count.isdigit() and int(count) >= 1:
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: a Dask scheduler's address (tcp://HOST:PORT) or local:N")


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
    add_reader_options(p, threads_help="torch CPU threads of each worker (default: cpu_count / N for --workers N "
                                       "and local:N; a scheduler's workers: their environment's)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar and no line per failed page (failures.tsv still lists them)")
    p.set_defaults(func=run)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args) -> int:
    """Run a batch (``htr.batch.run``); the exit code (0 done, 3 some pages failed, 130 interrupted). HTRError
    when fatal. SIGTERM (a scheduler's stop) ends the run as cleanly as Ctrl-C."""
    from htr.batch import run as run_batch

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    summary = run_batch(args.in_dir, args.out_dir, args.formats, reader_options(args), workers=args.workers,
                        scheduler=args.scheduler, progress=not args.quiet,
                        log=lambda message: print(message, file=sys.stderr))
    print(f"htr batch: {summary}", file=sys.stderr)
    return summary.exit_code
