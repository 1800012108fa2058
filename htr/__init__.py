"""htr: handwriting-first document OCR.

``from htr import read_page, read_document, Reader, Page, Document``: ``read_page``, ``read_document`` and
``Reader`` (``htr.pipeline``) are imported on first use, so ``import htr`` stays light and loads no torch.
"""
from htr.document import Block, Document, Line, Page, Word
from htr.errors import FormatError, HTRError, ImageError

__version__ = "0.1.0"

__all__ = ["read_page", "read_document", "Reader", "ReaderOptions", "Document", "Page", "Block", "Line", "Word",
           "HTRError", "ImageError", "FormatError", "__version__"]

_LAZY = {"read_page": "htr.pipeline", "read_document": "htr.pipeline", "Reader": "htr.pipeline",
         "ReaderOptions": "htr.options"}


def __getattr__(name: str):
    """The pipeline's names, imported on first access (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'htr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
