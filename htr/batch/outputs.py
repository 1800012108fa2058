"""What a batch writes to OUT_DIR: each page's outputs under temporary names (``write_outputs``, in a worker),
moved into place with their manifest line (``commit``, in the run's process), the combined PDF of a PDF or
multi-page TIFF, and failures.tsv."""
from __future__ import annotations

import io
import json
import posixpath
import signal
import tempfile
import threading
import time
from contextlib import contextmanager

import numpy as np

from htr.batch.pages import Failure, Options, PageJob, PageResult, output_names
from htr.batch.storage import Folder, temporary_name
from htr.formats import REGISTRY, write_document

MANIFEST = "manifest.jsonl"
FAILURES = "failures.tsv"


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
