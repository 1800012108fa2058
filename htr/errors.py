"""Errors htr raises for bad input: each one's message is a single line fit to show a user as it is."""


class HTRError(Exception):
    """Base class of the errors the CLI reports as one line on stderr."""


class ImageError(HTRError, ValueError):
    """An image that cannot be read: missing, empty, truncated, not an image, or too large."""


class FormatError(HTRError, ValueError):
    """A document file that cannot be read or written: malformed XML, unknown format, missing fields."""


class ResourceError(HTRError, RuntimeError):
    """Something htr needs is missing or failed to install: fonts, model weights, an external program."""


class UsageError(HTRError):
    """Arguments that make no sense together or name nothing usable: the CLI exits with code 2."""


def one_line(err: BaseException | str, path=None) -> str:
    """An error as one line: HTRError messages as they are, others prefixed with their type; a leading
    "``path``: " is dropped (for reports that name the input in a column of their own)."""
    text = str(err) if isinstance(err, (str, HTRError)) else f"{type(err).__name__}: {err}"
    text = " ".join(text.split()) or type(err).__name__
    prefix = f"{path}: "
    return text[len(prefix):] if path is not None and text.startswith(prefix) else text


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and the noun it takes: "1 page", "2 pages" (``nouns``: an irregular plural)."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
