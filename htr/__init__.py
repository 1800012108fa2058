"""htr: handwriting-first document OCR."""
from htr.document import Block, Line, Page, Word
from htr.errors import FormatError, HTRError, ImageError

__version__ = "0.1.0"

__all__ = ["Page", "Block", "Line", "Word", "HTRError", "ImageError", "FormatError", "__version__"]
