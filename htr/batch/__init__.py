"""Reading every page image, multi-page TIFF and PDF of a folder into documents: ``htr.batch.run(in_dir,
out_dir, formats=...)`` returns a ``Summary``; `htr batch IN_DIR OUT_DIR` is a thin shell over it.

IN_DIR and OUT_DIR are local folders or fsspec URLs (``storage``). Every page under IN_DIR (recursively) gets a
key, its path under IN_DIR without the suffix (plus ``_p0001``, ``_p0002``, ... for the pages of a PDF or a
multi-page TIFF: ``pages``), and its outputs in OUT_DIR, which mirrors the input tree: KEY.page.xml,
KEY.alto.xml, KEY.hocr, KEY.txt, KEY.json and KEY.pdf, as ``formats`` asks; with PDF output a PDF or multi-page
TIFF also gets one PDF of all its pages (``outputs.combine_pdf``: its key without ``_pNNNN``), made from its page
PDFs once they all exist. Every file is written under a temporary name beside its final one and moved into
place, so an output is either complete or absent.

Resuming: a page whose outputs all exist is skipped, so the same run again after an interruption (Ctrl-C stops
a run cleanly: finished pages stay, this run's temporary files are removed) does only the rest. A page that
cannot be read never stops the run: OUT_DIR/failures.tsv lists the failed pages of the latest run (input, page,
error), and OUT_DIR/manifest.jsonl gets one JSON line per page finished (``outputs.Manifest``).

The modules: ``pages`` (inputs, jobs, local copies of remote inputs), ``outputs`` (writing, committing,
manifest, combined PDFs, failures.tsv), ``workers`` (the processes that read pages: this one or a spawn
pool), ``cluster`` (the same on a Dask cluster), ``runner`` (``run``), ``storage`` (``Folder``).
"""
from __future__ import annotations

from htr.batch.outputs import FAILURES, MANIFEST, combine_pdf
from htr.batch.pages import Failure, Options, PageJob, PageResult, find_pages, load_page
from htr.batch.runner import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, Summary, run
from htr.batch.storage import Folder

__all__ = ["run", "Summary", "Folder", "PageJob", "PageResult", "Failure", "Options", "find_pages", "load_page",
           "combine_pdf", "MANIFEST", "FAILURES", "EXIT_OK", "EXIT_FATAL", "EXIT_PARTIAL", "EXIT_INTERRUPTED"]
