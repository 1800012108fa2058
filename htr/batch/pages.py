"""The pages of a batch: the input files under IN_DIR, a job per page, what reading one gives, and the pages'
images, each multi-page file on object storage downloaded once per process that reads it (``LocalCopies``)."""
from __future__ import annotations

import posixpath
import shutil
import tempfile
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from htr.batch.storage import Folder
from htr.errors import HTRError, ImageError, one_line
from htr.formats import REGISTRY
from htr.imageio import IMAGE_SUFFIXES, PDF_SUFFIX, TIFF_SUFFIXES, load_page as load_image_page, page_count
from htr.options import ReaderOptions

MULTI_PAGE_SUFFIXES = (PDF_SUFFIX, *TIFF_SUFFIXES)


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
    by ``htr.batch.outputs.commit``."""
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
    reader: ReaderOptions = ReaderOptions()


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
    """``page_count`` of a file under ``in_dir`` (only PDFs and TIFFs are opened: an image is one page). On
    object storage the file is read in ranges, as far as counting needs, not downloaded."""
    if not name.lower().endswith(MULTI_PAGE_SUFFIXES):
        return None
    if in_dir.local:
        with _readable(in_dir, name, lambda: nullcontext(in_dir.path(name))) as path:
            return page_count(path)
    with _readable(in_dir, name, lambda: in_dir.fs.open(in_dir.path(name), "rb")) as file:
        return page_count(in_dir.url(name), file)



@contextmanager
def _readable(in_dir: Folder, name: str, opener) -> Iterator:
    """``opener()``'s context (a local path or an open file of the input ``name``); errors (ImageError) name the
    input as the user gave it."""
    url = in_dir.url(name)
    try:
        with opener() as opened:
            try:
                yield opened
            except ImageError as err:
                if not isinstance(opened, str) or opened == url:
                    raise
                raise ImageError(str(err).replace(opened, url)) from err
    except FileNotFoundError as err:
        raise ImageError(f"{url}: no such file") from err
    except OSError as err:  # the storage: a network error, no access
        raise ImageError(f"{url}: cannot read file ({one_line(err)})") from err


def output_names(key: str, formats: tuple[str, ...]) -> list[str]:
    return [key + REGISTRY[fmt].suffix for fmt in formats]


def is_done(job: PageJob, existing: set[str], formats: tuple[str, ...]) -> bool:
    """Whether every output of the job is among ``existing`` (``Folder.listing`` of OUT_DIR)."""
    return all(name in existing for name in output_names(job.key, formats))


class LocalCopies:
    """Local paths of the inputs under a folder. A PDF or multi-page TIFF on object storage is downloaded once
    and kept while its pages are read (the ``KEEP`` latest; jobs come in page order), an image downloaded and
    dropped; in a local folder every input is its own path."""

    KEEP = 2

    def __init__(self, in_dir: Folder):
        self.in_dir = in_dir
        self.kept: dict[str, str] = {}  # name -> its temporary folder, the latest last
        self.downloads = 0  # files fetched so far

    @contextmanager
    def path(self, name: str) -> Iterator[str]:
        """A local path holding ``name``'s content while the block runs (ImageError when it cannot be read)."""
        with _readable(self.in_dir, name, lambda: self._copy(name)) as path:
            yield path

    @contextmanager
    def _copy(self, name: str) -> Iterator[str]:
        if self.in_dir.local:
            yield self.in_dir.path(name)
            return
        if name in self.kept:
            self.kept[name] = self.kept.pop(name)  # the latest now
        else:
            folder = tempfile.mkdtemp(prefix="htr-")
            try:
                self.in_dir.fs.get_file(self.in_dir.path(name), self._local(folder, name))
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self.downloads += 1
            if not name.lower().endswith(MULTI_PAGE_SUFFIXES):  # one page: not kept
                try:
                    yield self._local(folder, name)
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
                return
            self.kept[name] = folder
            while len(self.kept) > self.KEEP:
                shutil.rmtree(self.kept.pop(next(iter(self.kept))), ignore_errors=True)
        yield self._local(self.kept[name], name)

    @staticmethod
    def _local(folder: str, name: str) -> str:
        return posixpath.join(folder, posixpath.basename(name))

    def close(self) -> None:
        """Remove the copies kept."""
        for folder in self.kept.values():
            shutil.rmtree(folder, ignore_errors=True)
        self.kept.clear()


def load_page(in_dir: Folder, job: PageJob, copies: LocalCopies | None = None) -> np.ndarray:
    """The job's page as an RGB array; ImageError when it cannot be read. ``copies``: where the input's local
    copy is kept between the pages of a file (None: fetched for this page alone)."""
    own = copies is None
    copies = LocalCopies(in_dir) if own else copies
    try:
        with copies.path(job.input) as path:
            return load_image_page(path, job.page)
    finally:
        if own:
            copies.close()
