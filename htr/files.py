"""Writing files whole or not at all: data goes to a temporary name beside the final one, renamed into place."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def unique_tag() -> str:
    """A tag for one run's temporary files: this process and a random part."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


def temporary_path(final: str | os.PathLike, tag: str | None = None) -> Path:
    """A hidden name beside ``final`` (``.NAME.TAG.part``); ``tag`` marks a run's files (default: unique)."""
    final = Path(final)
    return final.with_name(f".{final.name}.{tag or unique_tag()}.part")


def write_data(path: str | os.PathLike, data: str | bytes) -> None:
    """Bytes as they are, text as UTF-8."""
    if isinstance(data, str):
        Path(path).write_text(data, encoding="utf-8")
    else:
        Path(path).write_bytes(data)


@contextmanager
def atomic_path(path: str | os.PathLike, tag: str | None = None) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to (its folder is created): renamed onto ``path`` when the
    block ends without error, removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path, tag)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, data: str | bytes, tag: str | None = None) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` so that it is complete or unchanged, never partial."""
    with atomic_path(path, tag) as tmp:
        write_data(tmp, data)
