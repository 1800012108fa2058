"""Reading page images: any common file, bytes, array or PIL image in, an (H, W, 3) uint8 RGB array out;
the pages of PDFs and multi-page TIFFs (``load_page``, ``page_count``).

Every failure is an ``ImageError`` whose one-line message names the input and the reason; nothing
raised inside Pillow escapes unwrapped.
"""
from __future__ import annotations

import io
import math
import os
import stat
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from htr.errors import ImageError, one_line

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".jp2")  # page images htr looks for
TIFF_SUFFIXES = (".tif", ".tiff")
PDF_SUFFIX = ".pdf"
PDF_DPI = 200
PDF_MAX_SIDE = 3000  # pixels on a rendered PDF page's long side, at most
MAX_PIXELS = 178_956_970  # Pillow's default decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS)
MAX_PIXELS_ENV = "HTR_MAX_PIXELS"  # raises (or lowers) MAX_PIXELS for this process and the ones it starts

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray | Image.Image

RAISE_LIMIT = " (raise the limit with --max-pixels N or $HTR_MAX_PIXELS)"
_ORIENTATION = 0x0112  # the EXIF Orientation tag
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}  # the transposes and 90-degree rotations
_WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}  # 16/32-bit grey: scaled to 8 bits by hand
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


def max_pixels_limit() -> int:
    """The pixel limit of images: $HTR_MAX_PIXELS (what ``htr --max-pixels`` sets) or MAX_PIXELS."""
    value = os.environ.get(MAX_PIXELS_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_PIXELS


def set_max_pixels(limit: int) -> None:
    """Images of up to ``limit`` pixels are read from now on, here and in the processes this one starts."""
    os.environ[MAX_PIXELS_ENV] = str(int(limit))


def load_image(source: ImageSource, *, max_pixels: int | None = None, at_least: int | None = None,
               name: str | None = None) -> np.ndarray:
    """The image as a C-contiguous (H, W, 3) uint8 RGB array, upright as its EXIF orientation says.

    ``at_least``: a JPEG file is decoded at 1/2, 1/4 or 1/8 of its size (far faster) where its long side stays
    at least this many pixels; other formats and arrays come at full size.

    ``source`` is a path, the encoded file as bytes, a numpy array ((H, W), (H, W, 1), (H, W, 3) RGB or
    (H, W, 4) RGBA; uint8, uint16, or float in 0..1, or 0..255 when its maximum is above 1) or a PIL image.
    Transparency is composited on white; 16-bit data is scaled to 0..255. Images of more than
    ``max_pixels`` pixels (default: ``max_pixels_limit()``) are refused from their header, before anything is
    decoded; Pillow's own refusal above twice ``PIL.Image.MAX_IMAGE_PIXELS`` still applies, unless
    $HTR_MAX_PIXELS asks for more. ``name``: the source in error messages. Raises ``ImageError`` for anything
    that cannot be read.
    """
    max_pixels = max_pixels or max_pixels_limit()
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, name or "<array>", max_pixels)
    if isinstance(source, Image.Image):
        return _decode(source, name or "<PIL image>", max_pixels)
    name = name or _name(source)
    with _opened(source, name) as im:
        if at_least and im.format == "JPEG" and max(im.size) >= 2 * at_least:
            _check_size(im.width, im.height, name, max_pixels)
            f = at_least / max(im.size)
            im.draft(None, (math.ceil(im.width * f), math.ceil(im.height * f)))
        return _decode(im, name, max_pixels)


def image_size(source: ImageSource) -> tuple[int, int]:
    """(width, height) of the image as ``load_image`` returns it (after EXIF orientation), read from the
    file's header alone.

    An eXIf chunk after a PNG's image data (the PNG standard puts it before) is not looked for.
    """
    if isinstance(source, np.ndarray):
        if source.ndim < 2:
            raise _error("<array>", f"an image array has 2 or 3 dimensions, got shape {source.shape}")
        return int(source.shape[1]), int(source.shape[0])
    if isinstance(source, Image.Image):
        return _oriented_size(source)
    with _opened(source, _name(source)) as im:
        return _oriented_size(im)


def _name(source) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(source)
    raise TypeError(f"cannot read an image from {type(source).__name__}: give a path, bytes, an array or a PIL image")


def _error(name: str, reason: str, cause: BaseException | None = None) -> ImageError:
    """An ImageError with a one-line message; ``cause``'s first line is appended to ``reason``."""
    if cause is not None:
        detail = str(cause).strip().splitlines()
        reason = f"{reason} ({detail[0] if detail else type(cause).__name__})"
    message = f"{name}: {reason}"
    return ImageError(message.replace("\r", "\\r").replace("\n", "\\n"))


@contextmanager
def quiet(libtiff: bool = False) -> Iterator[None]:
    """Pillow's warnings on corrupt data silenced ("Corrupt EXIF data", ...): the result or the error tells;
    ``libtiff``: also what libtiff writes to stderr itself ("LZWDecode: Not enough data ..."), for the while
    (the process's stderr, every thread's, goes to /dev/null meanwhile)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not libtiff:
            yield
            return
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


@contextmanager
def _opened(source, name: str) -> Iterator[Image.Image]:
    """The lazily opened image of a path or bytes: only the header has been read when it is yielded.

    Pillow's own decompression-bomb warning is silenced throughout: callers apply their own limit.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise _error(name, "empty data (0 bytes)")
        fp = io.BytesIO(bytes(source))
    else:
        fp = _readable(Path(os.fspath(source)), name)
    if os.environ.get(MAX_PIXELS_ENV) and Image.MAX_IMAGE_PIXELS:  # the user's limit, not Pillow's, decides
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS, max_pixels_limit())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's on corrupt data ("Corrupt EXIF data", ...): the outcome tells
        try:
            im = Image.open(fp)
        except UnidentifiedImageError as e:
            raise _error(name, "not an image file, or a format Pillow cannot read") from e
        except Image.DecompressionBombError as e:
            raise _error(name, f"image too large for Pillow's decompression-bomb limit{RAISE_LIMIT}", e) from e
        except Exception as e:
            raise _error(name, "cannot open image", e) from e
        with im:
            yield im


def _readable(path: Path, name: str) -> Path | io.BytesIO:
    """A file to open: the path of a regular file, or the bytes of a pipe or device (``/dev/stdin``)."""
    info = _check_file(path, name, pipes=True)
    if stat.S_ISREG(info.st_mode):
        return path
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise _error(name, f"cannot read file ({e.strerror or e})") from e
    if not data:
        raise _error(name, "empty data (0 bytes)")
    return io.BytesIO(data)


def _check_file(path: Path, name: str, pipes: bool = False) -> os.stat_result:
    """The file's status; ImageError when it is missing, a folder or empty (``pipes``: a pipe or device's
    size is not checked: it says 0)."""
    try:
        info = path.stat()
    except FileNotFoundError as e:
        raise _error(name, "no such file") from e
    except OSError as e:
        raise _error(name, f"cannot read file ({e.strerror or e})") from e
    if stat.S_ISDIR(info.st_mode):
        raise _error(name, "is a directory, not an image file")
    if info.st_size == 0 and not (pipes and not stat.S_ISREG(info.st_mode)):
        raise _error(name, "empty file (0 bytes)")
    return info


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise _error(name, f"image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise _error(name, f"image too large: {width}x{height} = {width * height} pixels, over the limit of "
                           f"{max_pixels}{RAISE_LIMIT}")


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1 = upright), from the header; 1 when the EXIF data is unreadable."""
    try:
        # PngImageFile.getexif decodes the whole image to look for an eXIf chunk after the pixel data;
        # the base class's reads what the header gave.
        exif = Image.Image.getexif(im) if im.format == "PNG" else im.getexif()
        return int(exif.get(_ORIENTATION, 1))
    except Exception:
        return 1


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    width, height = im.size
    if _orientation(im) in _SWAPPING_ORIENTATIONS and not _oriented_by_pillow(im):
        return height, width
    return width, height


def _oriented_by_pillow(im: Image.Image) -> bool:
    """Whether Pillow already gives the upright size: recent versions do for TIFF (and turn it on load)."""
    tags = getattr(im, "tag_v2", None)
    return tags is not None and im.size != (tags.get(256), tags.get(257))  # ImageWidth, ImageLength


def _decode(im: Image.Image, name: str, max_pixels: int) -> np.ndarray:
    """Check the header size, then decode, orient and normalise a (possibly lazily opened) PIL image."""
    _check_size(im.width, im.height, name, max_pixels)
    with quiet(libtiff=im.format == "TIFF"):
        try:
            im.load()  # decodes everything, so a truncated or corrupt file fails here
        except Image.DecompressionBombError as e:
            raise _error(name, f"image too large for Pillow's decompression-bomb limit{RAISE_LIMIT}", e) from e
        except Exception as e:
            raise _error(name, "cannot decode image", e) from e
        try:
            im = ImageOps.exif_transpose(im)
        except Exception:
            pass  # unreadable EXIF data: keep the image as stored, as image_size does
        try:
            array = _pil_to_array(im)
        except Exception as e:
            raise _error(name, f"cannot convert image mode {im.mode} to RGB", e) from e
    return _array_to_rgb(array, name, max_pixels)


def _pil_to_array(im: Image.Image) -> np.ndarray:
    """An array ``_array_to_rgb`` takes: 16/32-bit grey as it is, transparent images as RGBA, others RGB."""
    if im.mode in _WIDE_MODES:
        return np.asarray(im)
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return np.asarray(im.convert("RGBA"))
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))


def _array_to_rgb(source: np.ndarray, name: str, max_pixels: int) -> np.ndarray:
    array = source
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (2, 3, 4))):
        raise _error(name, f"unsupported array shape {array.shape}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    _check_size(array.shape[1], array.shape[0], name, max_pixels)
    rgb = _to_uint8(array, name)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    elif rgb.shape[2] == 2:  # grey + alpha
        rgb = _on_white(np.repeat(rgb[:, :, :1], 3, axis=2), rgb[:, :, 1])
    elif rgb.shape[2] == 4:
        rgb = _on_white(rgb[:, :, :3], rgb[:, :, 3])
    if rgb is source or not (rgb.flags.owndata and rgb.flags.writeable and rgb.flags.c_contiguous):
        rgb = np.array(rgb, order="C")  # a writable copy, never a view of the caller's data
    return rgb


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """Values as uint8: uint16 scaled by 1/257, floats in 0..1 (or 0..255 when the maximum is above 1)
    clipped and scaled, other integers kept when in 0..255, scaled by 1/257 when in 0..65535, else stretched."""
    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if kind == "f":
        values = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
        if values.max() <= 1.0:
            values *= 255.0
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    if kind in "iu":
        values = array.astype(np.int64)
        low, high = int(values.min()), int(values.max())
        if low >= 0 and 255 < high <= 65535:
            return ((values + 128) // 257).astype(np.uint8)
        if low >= 0 and high <= 255:
            return values.astype(np.uint8)
        span = max(high - low, 1)
        return ((values - low) * 255 // span).astype(np.uint8)
    raise _error(name, f"unsupported array dtype {array.dtype}")


def _on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB composited over a white background by its alpha (both uint8)."""
    a = alpha.astype(np.uint32)[:, :, None]
    return ((rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def page_count(path: str | os.PathLike, file=None) -> int | None:
    """Pages of a PDF or TIFF, None for a single image; ``file``: the file already open (binary, seekable), read
    as far as counting needs, ``path`` then its name. Raises ImageError for a PDF that cannot be opened; a TIFF
    whose frames cannot be counted counts as one image (reading it reports the error)."""
    name, path = os.fspath(path), Path(path)  # name: as given (a URL keeps its //)
    suffix = path.suffix.lower()
    if suffix == PDF_SUFFIX:
        pdf = _open_pdf(path if file is None else file, name)
        try:
            if len(pdf) == 0:
                raise ImageError(f"{name}: PDF has no pages")
            return len(pdf)
        finally:
            pdf.close()
    if suffix in TIFF_SUFFIXES:
        try:
            with quiet(libtiff=True), Image.open(path if file is None else file) as im:
                frames = int(getattr(im, "n_frames", 1))
        except Exception:
            return None
        return frames if frames > 1 else None
    return None


def _open_pdf(source, name: str):
    """The PDF (a path, its bytes or an open binary file) as a pypdfium2 document (close it); ImageError when it
    cannot be opened."""
    try:
        import pypdfium2
    except ImportError as err:
        raise ImageError(f"{name}: reading PDF needs pypdfium2 (pip install pypdfium2)") from err
    try:
        return pypdfium2.PdfDocument(str(source) if isinstance(source, (str, os.PathLike)) else source)
    except Exception as err:
        raise ImageError(f"{name}: cannot open PDF ({one_line(err)})") from err


def render_pdf_page(source: str | os.PathLike | bytes, number: int, dpi: int = PDF_DPI,
                    max_side: int = PDF_MAX_SIDE, name: str | None = None) -> Image.Image:
    """Page ``number`` (1-based) of a PDF (a path or its bytes) as an RGB PIL image at ``dpi``, at most
    ``max_side`` pixels long; ``name``: the PDF in error messages."""
    name = name or _name(source)
    pdf = _open_pdf(source if isinstance(source, bytes) else Path(source), name)
    try:
        if not 1 <= number <= len(pdf):
            raise ImageError(f"{name}: no page {number} (the PDF has {len(pdf)})")
        page = pdf[number - 1]
        try:
            width, height = page.get_size()  # points, 1/72 inch
            if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
                raise ImageError(f"{name}: PDF page {number} has no usable size ({width} x {height} points)")
            scale = min(dpi / 72, max_side / max(width, height, 1.0))
            return page.render(scale=scale).to_pil().convert("RGB")
        finally:
            page.close()
    except ImageError:
        raise
    except Exception as err:
        raise ImageError(f"{name}: cannot render PDF page {number} ({one_line(err)})") from err
    finally:
        pdf.close()


def load_page(source: str | os.PathLike | bytes, page: int | None = None, name: str | None = None) -> np.ndarray:
    """Page ``page`` (1-based) of a PDF or multi-page TIFF as ``load_image`` gives it; None: the image (a PDF's
    first page, a TIFF's first frame). ``source``: a path, or the file's bytes (a PDF is known by its header);
    a pipe or device (``/dev/stdin``) is read whole. ``name``: the source in error messages. Raises ImageError."""
    name = name or _name(source)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        path = Path(os.fspath(source))
        opened = _readable(path, name)
        if isinstance(opened, Path) and path.suffix.lower() == PDF_SUFFIX:
            return load_image(render_pdf_page(path, page or 1, name=name), name=name)
        if isinstance(opened, Path) and page is None:
            return load_image(path, name=name)
        source = path if isinstance(opened, Path) else opened.getvalue()
    elif not len(source):
        raise _error(name, "empty data (0 bytes)")
    else:
        source = bytes(source)
    if isinstance(source, bytes) and source.lstrip()[:5] == b"%PDF-":
        return load_image(render_pdf_page(source, page or 1, name=name), name=name)
    if page is None:
        return load_image(source, name=name)
    try:
        with quiet(libtiff=True), Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            frames = int(getattr(im, "n_frames", 1))
            if not 1 <= page <= frames:
                raise ImageError(f"{name}: no page {page} (the file has {frames})")
            im.seek(page - 1)
            _check_size(im.width, im.height, name, max_pixels_limit())  # before the frame is decoded
            frame = im.copy()
    except ImageError:
        raise
    except Exception as err:
        raise ImageError(f"{name}: cannot decode page {page} ({one_line(err)})") from err
    return load_image(frame, name=name)
