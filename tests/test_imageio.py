import io
import warnings

import numpy as np
import pytest
from PIL import Image, ImageFile

from htr.errors import HTRError, ImageError
from htr.imageio import MAX_PIXELS, image_size, load_image

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _assert_rgb(arr: np.ndarray, height: int, width: int) -> None:
    assert arr.shape == (height, width, 3)
    assert arr.dtype == np.uint8
    assert arr.flags.c_contiguous


def _assert_error(excinfo, *needles: str) -> None:
    message = str(excinfo.value)
    assert isinstance(excinfo.value, HTRError)
    assert "\n" not in message and message
    for needle in needles:
        assert needle in message, message


def _half_red_half_blue(width: int = 32, height: int = 16) -> Image.Image:
    im = Image.new("RGB", (width, height), BLUE)
    im.paste(RED, (0, 0, width // 2, height))
    return im


def _save(im: Image.Image, path, **kwargs):
    im.save(path, **kwargs)
    return path


# --- formats and modes -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["png", "bmp", "tiff", "webp"])
def test_lossless_formats_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    kwargs = {"lossless": True} if suffix == "webp" else {}
    path = _save(Image.fromarray(pixels), tmp_path / f"x.{suffix}", **kwargs)
    arr = load_image(path)
    _assert_rgb(arr, 7, 5)
    assert np.array_equal(arr, pixels)
    assert load_image(str(path)).tobytes() == arr.tobytes()
    assert image_size(path) == (5, 7)


def test_jpeg(tmp_path):
    path = _save(_half_red_half_blue(), tmp_path / "x.jpg", quality=95)
    arr = load_image(path)
    _assert_rgb(arr, 16, 32)
    assert arr[8, 4, 0] > 200 and arr[8, 4, 2] < 60  # red half
    assert arr[8, 28, 2] > 200 and arr[8, 28, 0] < 60  # blue half


def test_large_jpeg_decoded_smaller_on_request(tmp_path):
    """at_least: a JPEG comes at 1/2, 1/4 or 1/8 size with its long side still that long; PNG at full size."""
    big = _half_red_half_blue(1600, 1200)
    jpeg, png = _save(big, tmp_path / "big.jpg", quality=90), _save(big, tmp_path / "big.png")
    assert load_image(jpeg).shape == (1200, 1600, 3)
    assert load_image(jpeg, at_least=700).shape == (600, 800, 3)  # 1/2: 1/4 would be 400 px long
    assert load_image(jpeg, at_least=400).shape == (300, 400, 3)
    assert load_image(jpeg, at_least=1000).shape == (1200, 1600, 3)  # 1/2 would be too small
    assert load_image(png, at_least=400).shape == (1200, 1600, 3)
    small = load_image(jpeg, at_least=400)
    assert small[150, 50, 0] > 200 and small[150, 350, 2] > 200  # the same picture, red left, blue right


def test_result_is_writable_and_not_a_view(tmp_path):
    pixels = np.zeros((3, 4, 3), dtype=np.uint8)
    arr = load_image(pixels)
    arr[0, 0] = 7
    assert pixels[0, 0, 0] == 0
    loaded = load_image(_save(Image.fromarray(pixels), tmp_path / "x.png"))
    loaded[0, 0] = 1  # a writable array, not Pillow's read-only buffer


def test_grey_and_bilevel(tmp_path):
    grey = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    arr = load_image(_save(Image.fromarray(grey), tmp_path / "g.png"))
    _assert_rgb(arr, 2, 2)
    assert np.array_equal(arr, np.repeat(grey[:, :, None], 3, axis=2))

    bilevel = Image.fromarray(np.array([[0, 255, 0]], dtype=np.uint8)).convert("1")
    arr = load_image(_save(bilevel, tmp_path / "b.png"))
    _assert_rgb(arr, 1, 3)
    assert arr[:, :, 0].tolist() == [[0, 255, 0]]


def test_rgba_transparent_pixels_become_white(tmp_path):
    rgba = np.array([[[0, 0, 0, 0], [0, 0, 0, 255], [255, 0, 0, 128]]], dtype=np.uint8)
    arr = load_image(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    _assert_rgb(arr, 1, 3)
    assert arr[0, 0].tolist() == [255, 255, 255]
    assert arr[0, 1].tolist() == [0, 0, 0]
    assert arr[0, 2].tolist() == [255, 127, 127]  # half-transparent red over white


def test_grey_with_alpha(tmp_path):
    la = Image.fromarray(np.array([[[0, 0], [0, 255]]], dtype=np.uint8), "LA")
    arr = load_image(_save(la, tmp_path / "la.png"))
    assert arr[0].tolist() == [[255, 255, 255], [0, 0, 0]]


def test_palette_image(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * (256 * 3 - 6))
    im.putdata([0, 1])
    arr = load_image(_save(im, tmp_path / "p.png"))
    assert arr[0].tolist() == [[10, 20, 30], [200, 100, 50]]

    gif = load_image(_save(im, tmp_path / "p.gif"))
    assert gif[0].tolist() == [[10, 20, 30], [200, 100, 50]]


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * (256 * 3 - 6))
    im.putdata([0, 1])
    im.info["transparency"] = 0
    arr = load_image(_save(im, tmp_path / "pt.png", transparency=0))
    assert arr[0].tolist() == [[255, 255, 255], [200, 100, 50]]


def test_cmyk(tmp_path):
    im = Image.new("CMYK", (2, 2), (0, 255, 255, 0))  # red
    arr = load_image(_save(im, tmp_path / "c.tiff"))
    assert arr[0, 0].tolist() == [255, 0, 0]


@pytest.mark.parametrize("suffix", ["png", "tiff"])
def test_16_bit_grey_is_scaled_not_clipped(tmp_path, suffix):
    gradient = np.linspace(0, 65535, 256).round().astype(np.uint16)[None, :].repeat(3, axis=0)
    im = Image.fromarray(gradient)
    assert im.mode.startswith("I;16")
    arr = load_image(_save(im, tmp_path / f"g16.{suffix}"))
    _assert_rgb(arr, 3, 256)
    row = arr[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert np.all(np.diff(row) >= 0)
    assert len(np.unique(row)) > 200  # spans the range, not clipped at 255
    assert abs(row[128] - 128) <= 1


def test_32_bit_and_float_modes():
    as_i = Image.fromarray(np.array([[0, 65535]], dtype=np.int32), "I")
    assert load_image(as_i)[0, :, 0].tolist() == [0, 255]
    as_f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F")
    assert load_image(as_f)[0, :, 0].tolist() == [0, 128, 255]


# --- EXIF orientation --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["jpg", "png", "tiff", "webp"])
def test_exif_rotation(tmp_path, suffix):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be turned 90 degrees clockwise to be upright
    path = _save(_half_red_half_blue(32, 16), tmp_path / f"r.{suffix}", exif=exif)
    arr = load_image(path)
    _assert_rgb(arr, 32, 16)  # width and height swapped
    assert arr[4, 8, 0] > 200 and arr[4, 8, 2] < 60  # the left (red) half is now on top
    assert arr[28, 8, 2] > 200 and arr[28, 8, 0] < 60
    assert image_size(path) == (16, 32)
    assert image_size(path.read_bytes()) == (16, 32)


def test_exif_mirror_keeps_size(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 2  # mirrored left-right
    path = _save(_half_red_half_blue(32, 16), tmp_path / "m.png", exif=exif)
    arr = load_image(path)
    _assert_rgb(arr, 16, 32)
    assert arr[8, 28, 0] == 255 and arr[8, 4, 2] == 255  # red now on the right
    assert image_size(path) == (32, 16)


# --- other inputs ------------------------------------------------------------------------------------


def test_bytes_and_pil_inputs(tmp_path):
    im = _half_red_half_blue(6, 2)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    expected = np.asarray(im)
    assert np.array_equal(load_image(buf.getvalue()), expected)
    assert np.array_equal(load_image(bytearray(buf.getvalue())), expected)
    assert np.array_equal(load_image(im), expected)
    assert image_size(buf.getvalue()) == (6, 2)
    assert image_size(im) == (6, 2)
    lazy = Image.open(_save(im, tmp_path / "x.png"))
    assert np.array_equal(load_image(lazy), expected)
    assert np.array_equal(load_image(im.convert("RGBA")), expected)


def test_array_inputs():
    grey = np.array([[0, 128], [255, 7]], dtype=np.uint8)
    expected = np.repeat(grey[:, :, None], 3, axis=2)
    assert np.array_equal(load_image(grey), expected)
    assert np.array_equal(load_image(grey[:, :, None]), expected)
    assert np.array_equal(load_image(expected), expected)
    assert np.array_equal(load_image(expected[:, ::-1]), expected[:, ::-1])  # non-contiguous view
    assert load_image(expected[:, ::-1]).flags.c_contiguous

    rgba = np.zeros((1, 2, 4), dtype=np.uint8)
    rgba[0, 1] = (10, 20, 30, 255)
    assert load_image(rgba)[0].tolist() == [[255, 255, 255], [10, 20, 30]]

    wide = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    assert load_image(wide)[0, :, 0].tolist() == [0, 1, 128, 255]

    unit = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    assert load_image(unit)[0, :, 0].tolist() == [0, 128, 255]
    byte_range = np.array([[0.0, 100.0, 255.0, 300.0]])
    assert load_image(byte_range)[0, :, 0].tolist() == [0, 100, 255, 255]

    assert load_image(np.array([[True, False]]))[0, :, 0].tolist() == [255, 0]


@pytest.mark.parametrize("shape", [(4,), (2, 2, 5), (2, 2, 3, 1)])
def test_bad_array_shape(shape):
    with pytest.raises(ImageError) as excinfo:
        load_image(np.zeros(shape, dtype=np.uint8))
    _assert_error(excinfo, "<array>", "shape")


def test_unsupported_source_type():
    with pytest.raises(TypeError):
        load_image(12)


# --- errors ------------------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    _assert_error(excinfo, str(path), "no such file")
    with pytest.raises(ImageError):
        image_size(str(path))


def test_directory(tmp_path):
    with pytest.raises(ImageError) as excinfo:
        load_image(tmp_path)
    _assert_error(excinfo, str(tmp_path), "directory")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    _assert_error(excinfo, str(path), "empty")
    with pytest.raises(ImageError) as excinfo:
        load_image(b"")
    _assert_error(excinfo, "<bytes>", "empty")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_text("this is not an image\nreally\n")
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    _assert_error(excinfo, str(path), "not an image")
    assert excinfo.value.__cause__ is not None
    with pytest.raises(ImageError) as excinfo:
        image_size(path)
    _assert_error(excinfo, str(path), "not an image")
    with pytest.raises(ImageError) as excinfo:
        load_image(b"GIF89a but not really")
    _assert_error(excinfo, "<bytes>")


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_truncated_image(tmp_path, suffix):
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    whole = _save(Image.fromarray(noise), tmp_path / f"whole.{suffix}")
    data = whole.read_bytes()
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(data[: len(data) // 2])
    assert image_size(path) == (64, 64)  # the header is intact
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    _assert_error(excinfo, str(path), "cannot decode")
    assert excinfo.value.__cause__ is not None


def test_zero_size_image():
    with pytest.raises(ImageError) as excinfo:
        load_image(Image.new("RGB", (0, 5)))
    _assert_error(excinfo, "<PIL image>", "zero size")
    with pytest.raises(ImageError) as excinfo:
        load_image(np.zeros((0, 5, 3), dtype=np.uint8))
    _assert_error(excinfo, "<array>", "zero size")


def test_max_pixels_checked_from_header_before_decoding(tmp_path, monkeypatch):
    path = _save(Image.new("RGB", (100, 80)), tmp_path / "big.png")
    assert load_image(path, max_pixels=8000).shape == (80, 100, 3)

    def no_decoding(self):
        raise AssertionError("decoded despite the size limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError) as excinfo:
        load_image(path, max_pixels=7999)
    _assert_error(excinfo, str(path), "too large", "100x80")
    with pytest.raises(ImageError):
        load_image(path.read_bytes(), max_pixels=100)
    with pytest.raises(ImageError):
        load_image(np.zeros((80, 100), dtype=np.uint8), max_pixels=100)
    assert MAX_PIXELS == 178_956_970


def test_pillow_bomb_limit_becomes_image_error(tmp_path, monkeypatch):
    path = _save(Image.new("RGB", (100, 80)), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # Pillow refuses above twice its limit
    with pytest.raises(ImageError) as excinfo:
        load_image(path)
    _assert_error(excinfo, str(path), "too large")
    with pytest.raises(ImageError):
        image_size(path)

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 6000)  # Pillow only warns: our own limit decides
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(path).shape == (80, 100, 3)
        assert image_size(path) == (100, 80)
        with pytest.raises(ImageError) as excinfo:
            load_image(path, max_pixels=5000)
    _assert_error(excinfo, "too large")


def test_load_page_reads_the_pages_of_pdfs_and_tiffs(tmp_path):
    from htr.imageio import load_page, page_count

    red, blue = Image.new("RGB", (400, 300), (255, 0, 0)), Image.new("RGB", (400, 300), (0, 0, 255))
    # A fresh copy for every save: Pillow keeps one save's options on the image for the next.
    red.copy().save(tmp_path / "two.pdf", save_all=True, append_images=[blue.copy()], resolution=100)
    red.copy().save(tmp_path / "two.tif", save_all=True, append_images=[blue.copy()])
    red.copy().save(tmp_path / "one.png")
    assert [page_count(tmp_path / n) for n in ("two.pdf", "two.tif", "one.png")] == [2, 2, None]
    first = load_page(tmp_path / "two.pdf")  # a PDF's first page when none is named, at 200 dpi
    assert first.shape == (600, 800, 3) and np.abs(first[300, 400] - np.int16([255, 0, 0])).max() < 8  # JPEG
    assert np.abs(load_page(tmp_path / "two.pdf", 2)[300, 400] - np.int16([0, 0, 255])).max() < 8
    assert load_page(tmp_path / "two.tif", 2)[0, 0].tolist() == [0, 0, 255]
    assert load_page(tmp_path / "two.tif")[0, 0].tolist() == [255, 0, 0]
    assert load_page(tmp_path / "one.png", 1).shape == (300, 400, 3)
    for name, page, message in (("two.pdf", 3, "no page 3 (the PDF has 2)"), ("two.tif", 3, "no page 3"),
                                ("none.pdf", None, "no such file"), ("none.tif", 2, "no such file")):
        with pytest.raises(ImageError) as excinfo:
            load_page(tmp_path / name, page)
        _assert_error(excinfo, str(tmp_path / name), message)
