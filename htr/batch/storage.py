"""The folders `htr batch` reads pages from and writes documents to: local paths or fsspec URLs.

A URL names a folder on any filesystem fsspec knows, with that filesystem's package installed:
``s3://BUCKET/PREFIX`` (s3fs), ``gs://`` (gcsfs), ``abfs://`` (adlfs), ``file:///abs/path``, ... Credentials and
endpoints come from that package's own configuration (for s3fs: the AWS variables or ~/.aws, and e.g.
``FSSPEC_S3_ENDPOINT_URL`` for an S3-compatible store). Files in a folder are named by '/'-separated paths
under it. A file is written whole or not at all: under a temporary name beside its final one, then moved into
place (a rename on a local or shared filesystem; on object storage, where a written object is whole, a copy
within the store).
"""
from __future__ import annotations

import os
import posixpath
import tempfile
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator

import fsspec
from fsspec.implementations.local import LocalFileSystem


def is_url(location) -> bool:
    return "://" in str(location)


def temporary_name(name: str, tag: str) -> str:
    """The hidden name beside ``name`` its content is written to first (``DIR/.BASE.TAG.part``)."""
    folder, base = posixpath.split(name)
    return posixpath.join(folder, f".{base}.{tag}.part")


@dataclass(frozen=True)
class Folder:
    """A folder: ``location`` is a local path or an fsspec URL (opened when first used)."""
    location: str

    @classmethod
    def at(cls, location) -> Folder:
        """A folder for a path (made absolute: workers may run in other working folders) or a URL."""
        location = str(location)
        return cls(location.rstrip("/") if is_url(location) else os.path.abspath(location))

    def __str__(self) -> str:
        return self.location

    @cached_property
    def _opened(self):
        try:
            fs, root = fsspec.core.url_to_fs(self.location)
        except (ImportError, ValueError) as err:  # the protocol's package missing (fsspec names it), or unknown
            raise OSError(f"{self.location}: {err}") from err
        return fs, root.rstrip("/") or "/"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._opened[0]

    @property
    def local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, name: str = "") -> str:
        """The filesystem's path of ``name`` (for a local folder, a path of this machine)."""
        root = self._opened[1]
        return posixpath.join(root, name) if name else root

    def url(self, name: str) -> str:
        """``name`` as the user would write it: the folder's location joined with it."""
        return os.path.join(self.location, name) if not is_url(self.location) else f"{self.location}/{name}"

    def is_folder(self) -> bool:
        return self.fs.isdir(self.path())

    def exists(self) -> bool:
        return self.fs.exists(self.path())

    def files(self, skip: Folder | None = None) -> list[str]:
        """The names of the files under the folder, recursively, sorted; hidden names ('.' first) and the
        folder ``skip`` (when inside) left out."""
        root, skipped = self.path(), skip.path() if skip is not None else None
        if self.local and skipped is not None:
            root, skipped = os.path.realpath(root), os.path.realpath(skipped)
        if skipped == root:
            skipped = None  # outputs beside the inputs: they are never inputs, nothing to leave out
        found = []
        for folder, dirs, names in self.fs.walk(root, topdown=True):
            folder = folder.rstrip("/")
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and posixpath.join(folder, d) != skipped)
            rel = posixpath.relpath(folder, root) if folder != root else ""
            found += [posixpath.join(rel, n) for n in names if not n.startswith(".")]
        return sorted(found)

    def listing(self) -> set[str]:
        """Every file name under the folder, hidden ones too (one listing, not a request per file)."""
        self.fs.invalidate_cache()  # what other processes wrote since this one last looked
        if not self.exists():
            return set()
        root = self.path()
        return {posixpath.relpath(p, root) for p in self.fs.find(root)}

    def glob(self, pattern: str) -> list[str]:
        """The names matching ``pattern`` (a name with ``*``: its folder's files only)."""
        self.fs.invalidate_cache()
        root = self.path()
        return [posixpath.relpath(p, root) for p in self.fs.glob(self.path(pattern))]

    def read_bytes(self, name: str) -> bytes:
        return self.fs.cat_file(self.path(name))

    def write(self, name: str, data: str | bytes) -> None:
        """``data`` (text as UTF-8) to ``name``, its folder created."""
        path = self.path(name)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        self.fs.pipe_file(path, data.encode("utf-8") if isinstance(data, str) else data)

    def move(self, source: str, target: str) -> None:
        """Rename ``source`` onto ``target`` (replacing it)."""
        if self.local:
            os.replace(self.path(source), self.path(target))
        else:
            self.fs.mv(self.path(source), self.path(target))

    def remove(self, name: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.rm_file(self.path(name))

    def write_atomic(self, name: str, data: str | bytes, tag: str) -> None:
        """``data`` to ``name`` so that it is complete or unchanged, never partial."""
        tmp = temporary_name(name, tag)
        try:
            self.write(tmp, data)
            self.move(tmp, name)
        finally:
            self.remove(tmp)

    def modified(self, name: str) -> float:
        """When ``name`` was last written (seconds since the epoch)."""
        if self.local:
            return os.stat(self.path(name)).st_mtime_ns / 1e9
        return self.fs.modified(self.path(name)).timestamp()

    @contextmanager
    def local_copy(self, name: str) -> Iterator[str]:
        """A path of this machine holding ``name``'s content: the file itself in a local folder, else a
        temporary copy with the same base name (removed after the block)."""
        if self.local:
            yield self.path(name)
            return
        with tempfile.TemporaryDirectory(prefix="htr-") as tmp:
            copy = os.path.join(tmp, posixpath.basename(name))
            self.fs.get_file(self.path(name), copy)
            yield copy
