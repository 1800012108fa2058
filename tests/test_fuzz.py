"""Files made to hurt: the image, PDF, TIFF, PAGE, ALTO (and hOCR, JSON) readers and `htr page --lines` fed
mutated real files and hostile ones. Each input must end, within seconds, in a result or in one clear error
line (an HTRError, which the command line prints as one line with exit code 1): never another exception, a
hang, a memory blow-up or a local file's content in the output.

Mutations are drawn from a seeded generator and bounded by time: about a minute in all by default;
HTR_FUZZ_SECONDS sets the total (a long local run: HTR_FUZZ_SECONDS=600), HTR_FUZZ_SEED the seed. Each test
prints how many inputs it tried (pytest -s shows it). A failing input is saved under pytest's tmp_path and
named in the failure.
"""
from __future__ import annotations

import io
import os
import random
import resource
import signal
import struct
import time
import warnings
import zlib
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr.errors import HTRError
from htr.formats import parse_document, read_document
from htr.imageio import load_page

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TOTAL_SECONDS = float(os.environ.get("HTR_FUZZ_SECONDS", "45"))  # the timed fuzzing; ~1 min with the rest
SEED = int(os.environ.get("HTR_FUZZ_SEED", "2026"))
SHARE = {"images": 0.35, "documents": 0.25, "lines": 0.3}  # of TOTAL_SECONDS; the fixed hostile cases besides
PER_INPUT_SECONDS = 20  # an input that takes longer is a hang
MAX_GROWTH_MB = 2500  # peak memory may grow this much over the fuzzing, at most
SECRET = "htr-fuzz-secret-7f3a9c"  # a local file's content that must never come out


# ------------------------------------------------------------------------------------------------ the harness

class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float):
    def alarm(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mutate(data: bytes, rng: random.Random, tokens: tuple[bytes, ...] = ()) -> bytes:
    """One to four random edits: byte flips, a truncation, a chunk dropped or repeated, a token put in."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        op, at = rng.randrange(6 if tokens else 5), rng.randrange(len(data))
        if op == 0:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1:
            del data[at:]
        elif op == 2:
            del data[at: at + rng.randint(1, 512)]
        elif op == 3:
            data[at:at] = data[at: at + rng.randint(1, 512)] * rng.randint(1, 4)
        elif op == 4:
            data[at] = rng.choice(b"\x00\xff<>\"'&;=,- 0123456789")
        else:
            data[at:at] = rng.choice(tokens)
    return bytes(data)


def check(outcome, data: bytes, name: str, tmp_path: Path) -> None:
    """Run ``outcome()``: a result, or an HTRError of one line; anything else fails with the input saved."""
    try:
        with deadline(PER_INPUT_SECONDS), warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            try:
                outcome()
            finally:  # a warning would be a second line on stderr
                noise = [f"{w.category.__name__}: {w.message}" for w in said
                         if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
                assert not noise, f"warnings: {noise[:3]}"
    except HTRError as err:
        message = str(err)
        assert message and "\n" not in message and "\r" not in message, f"{name}: not one line: {message!r}"
        assert SECRET not in message, f"{name}: a local file's content in the error"
    except BaseException as err:  # noqa: B036 (a hang, a traceback: saved for the report)
        if isinstance(err, KeyboardInterrupt):
            raise
        saved = tmp_path / f"failing-{name}"
        saved.write_bytes(data)
        raise AssertionError(f"{name}: {type(err).__name__}: {err} (input saved as {saved})") from err


def fuzz(name: str, seeds: dict[str, bytes], run, tmp_path: Path, share: float, tokens=(), capfd=None) -> int:
    """Mutations of ``seeds`` fed to ``run(data, suffix)`` for ``share`` of the time budget: inputs tried.
    ``capfd``: nothing may reach stderr (a C library's own messages included)."""
    rng = random.Random(f"{SEED}-{name}")
    stop, tried = time.monotonic() + TOTAL_SECONDS * share, 0
    start_peak = peak_mb()
    while time.monotonic() < stop:
        suffix = rng.choice(sorted(seeds))
        data = mutate(seeds[suffix], rng, tokens)
        check(lambda: run(data, suffix), data, f"{name}-{tried}{suffix}", tmp_path)
        if capfd is not None:
            said = capfd.readouterr().err
            assert not said, f"{name}-{tried}{suffix}: printed {said[:300]!r}"
        tried += 1
    growth = peak_mb() - start_peak
    with capfd.disabled() if capfd is not None else nullcontext():
        print(f"\nfuzz {name}: {tried} inputs in {TOTAL_SECONDS * share:.0f} s (seed {SEED}), "
              f"peak memory +{growth:.0f} MB")
    assert growth < MAX_GROWTH_MB, f"{name}: memory grew by {growth:.0f} MB"
    return tried


# ------------------------------------------------------------------------------------------------ seeds

def image_seeds() -> dict[str, bytes]:
    """Small real files of each kind a page comes in: a crop of the example letter."""
    crop = Image.open(EXAMPLES / "letter.jpg").convert("RGB").crop((100, 100, 420, 300))
    seeds = {}
    for suffix, kwargs in ((".jpg", {"quality": 80}), (".png", {}), (".webp", {"quality": 60})):
        buffer = io.BytesIO()
        crop.save(buffer, suffix.lstrip(".").replace("jpg", "jpeg"), **kwargs)
        seeds[suffix] = buffer.getvalue()
    buffer = io.BytesIO()
    crop.save(buffer, "TIFF", save_all=True, append_images=[crop.convert("L")], compression="tiff_lzw")
    seeds[".tif"] = buffer.getvalue()
    buffer = io.BytesIO()
    crop.save(buffer, "PDF", save_all=True, append_images=[crop.convert("L")], resolution=100)
    seeds[".pdf"] = buffer.getvalue()
    return seeds


def document_seeds() -> dict[str, bytes]:
    seeds = {f".{name}{suffix}": (EXAMPLES / f"{name}{suffix}").read_bytes()[:40000]
             for name in ("letter", "form") for suffix in (".page.xml", ".alto.xml", ".hocr", ".json", ".gt.xml")}
    seeds[".tesseract.xml"] = (ROOT / "tests" / "fixtures" / "tesseract" / "page.xml").read_bytes()
    real = sorted((ROOT.parent / "shared" / "data" / "hooker" / "dev").glob("*.xml"))[:1]
    seeds.update({".hooker.xml": path.read_bytes() for path in real})
    return seeds


XML_TOKENS = (b' points="1e30,1e30 -5,-5 nan,3"', b"1e30", b"-1e30", b"nan", b"inf", b"1e39", b"-7", b"99999999",
              b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>', b"&e;", b"&amp;", b"&#0;", b"&#x110000;",
              b"<![CDATA[", b"]]>", b"<?xml", b"\xff\xfe", b"\xc3\x28", b'"', b"<", b">")


# ------------------------------------------------------------------------------------------------ readers

def test_fuzz_image_pdf_and_tiff_readers(tmp_path, capfd):
    seeds = image_seeds()

    def run(data: bytes, suffix: str) -> None:
        rng_page = 2 if suffix in (".tif", ".pdf") and len(data) % 3 == 0 else None
        path = tmp_path / f"input{suffix}"
        path.write_bytes(data)
        for source in (path, data):  # a file, as htr page and htr batch read it, and the bytes of stdin
            image = load_page(source, rng_page)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3

    assert fuzz("images", seeds, run, tmp_path, SHARE["images"], capfd=capfd) > 0


def test_fuzz_page_alto_hocr_and_json_readers(tmp_path, capfd):
    def run(data: bytes, suffix: str) -> None:
        path = tmp_path / f"input{suffix}"
        path.write_bytes(data)
        page = read_document(path)
        assert SECRET not in page.text

    assert fuzz("documents", document_seeds(), run, tmp_path, SHARE["documents"], XML_TOKENS, capfd) > 0


# ------------------------------------------------------------------------------------------------ hostile files

def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with a few bytes of image data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """The example's JPEG with its frame header's size replaced."""
    data = bytearray((EXAMPLES / "letter.jpg").read_bytes())
    at = next(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC1, 0xC2))
    data[at + 5: at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_claiming(width: int, height: int) -> bytes:
    """An uncompressed grey TIFF whose IFD claims ``width`` x ``height`` pixels, with one strip of 64 bytes."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8),
               (277, 3, 1), (278, 4, height), (279, 4, 64)]
    ifd_at = 8 + 64
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", tag, kind, 1, value)
                                                    for tag, kind, value in entries) + struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_at) + b"\x80" * 64 + ifd


def pdf_with_media_box(box: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (50, 40), "white").save(buffer, "PDF")
    return buffer.getvalue().replace(b"/MediaBox [", f"/MediaBox [{box}] /Dummy [".encode(), 1)


@pytest.mark.parametrize("name, data", [
    ("png 60000x60000", png_claiming(60000, 60000)), ("jpeg 60000x60000", jpeg_claiming(60000, 60000)),
    ("tiff 60000x60000", tiff_claiming(60000, 60000)), ("png 65535x1", png_claiming(65535, 1)),
    ("png 0x0", png_claiming(0, 0)), ("pdf 1e30 points", pdf_with_media_box("0 0 1e30 1e30")),
    ("pdf 60000 points", pdf_with_media_box("0 0 60000 60000")), ("pdf nan", pdf_with_media_box("0 0 nan nan")),
    ("pdf negative", pdf_with_media_box("0 0 -500 -500"))])
def test_images_that_claim_absurd_sizes(tmp_path, name, data):
    start = peak_mb()
    for page in (None, 1):
        check(lambda: load_page(data, page), data, name.replace(" ", "-"), tmp_path)
    assert peak_mb() - start < 500, f"{name}: memory grew by {peak_mb() - start:.0f} MB"


def hostile_documents(secret: Path) -> dict[str, bytes]:
    """PAGE and ALTO with external entities, entity expansion and absurd geometry."""
    def page(points: str, size: str = 'imageWidth="694" imageHeight="954"', head: str = "", body: str = "") -> bytes:
        return (f'<?xml version="1.0"?>{head}<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/'
                f'2019-07-15"><Page imageFilename="letter.jpg" {size}><TextRegion id="r1"><Coords points="0,0 694,0 '
                f'694,954 0,954"/><TextLine id="l1"><Coords points="{points}"/><TextEquiv><Unicode>old{body}'
                f'</Unicode></TextEquiv></TextLine></TextRegion></Page></PcGts>').encode()

    def alto(attrs: str) -> bytes:
        return (f'<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout><Page WIDTH="694" HEIGHT="954">'
                f'<PrintSpace><TextBlock ID="b1"><TextLine ID="l1" {attrs}><String CONTENT="x" {attrs}/></TextLine>'
                f'</TextBlock></PrintSpace></Page></Layout></alto>').encode()

    rng = np.random.default_rng(0)
    many = " ".join(f"{x:.1f},{y:.1f}" for x, y in rng.uniform(0, 690, (300_000, 2)))
    ring = np.linspace(0, 2 * np.pi, 200_000, endpoint=False)
    circle = " ".join(f"{347 + 300 * np.cos(t):.2f},{477 + 60 * np.sin(t):.2f}" for t in ring)
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "xxe file": page("10,10 600,10 600,60 10,60", head=f'<!DOCTYPE PcGts [<!ENTITY x SYSTEM "file://{secret}">]>',
                         body="&x;"),
        "xxe parameter": page("10,10 600,10 600,60 10,60",
                              head=f'<!DOCTYPE PcGts [<!ENTITY % p SYSTEM "file://{secret}"> %p;]>'),
        "billion laughs": page("10,10 600,10 600,60 10,60", head=f'<!DOCTYPE PcGts [<!ENTITY l0 "ha">{laughs}]>',
                               body="&l9;"),
        "1e30": page("1e30,1e30 -1e30,5 3,1e30"), "nan": page("nan,nan 5,5 6,6 7,7"), "inf": page("inf,1 2,3 4,5"),
        "1e39": page("1e39,1 2,3 4,5"), "negative": page("-500,-500 -10,-500 -10,-10 -500,-10"),
        "outside": page("5000,5000 6000,5000 6000,5100 5000,5100"), "one point": page("10,10"),
        "two points": page("10,10 600,60"), "empty": page(""), "garbage": page("a,b c,d"),
        "300000 random points": page(many), "200000-point ring": page(circle),
        "huge page": page("10,10 600,10 600,60 10,60", size='imageWidth="1e30" imageHeight="-4"'),
        "alto 1e30": alto('HPOS="1e30" VPOS="1e30" WIDTH="1e30" HEIGHT="1e30"'),
        "alto nan": alto('HPOS="nan" VPOS="0" WIDTH="10" HEIGHT="10"'),
        "alto 3e38 overflow": alto('HPOS="3e38" VPOS="3e38" WIDTH="3e38" HEIGHT="3e38"'),
        "alto negative": alto('HPOS="-100" VPOS="-100" WIDTH="-50" HEIGHT="20"'),
    }


@pytest.fixture(scope="module")
def reader():
    from htr.pipeline import Reader

    return Reader(precision="fp32")


def run_lines(reader, seg: Path, capfd, image: Path = EXAMPLES / "letter.jpg") -> tuple[int, str, str]:
    """`htr page IMAGE --lines SEG --out json` in this process, with the module's reader: (code, out, err)."""
    from unittest import mock

    from htr.cli import main

    capfd.readouterr()
    with mock.patch("htr.cli.page.reader", lambda args: reader):
        code = main(["page", str(image), "--lines", str(seg), "--out", "json"])
    out, err = capfd.readouterr()
    return code, out, err


def assert_clean(code: int, out: str, err: str, name: str) -> None:
    """A result (exit 0, a JSON document) or one error line (exit 1); nothing of the secret file."""
    assert SECRET not in out and SECRET not in err, f"{name}: a local file's content in the output"
    if code == 0:
        assert out.startswith("{"), f"{name}: {out[:200]!r}"
    else:
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1 and lines[0].startswith("htr: error: "), f"{name}: {code} {err!r}"


@pytest.mark.parametrize("name", list(hostile_documents(Path("/x"))))
def test_hostile_segmentations_through_page_lines(reader, tmp_path, capfd, name):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = hostile_documents(secret)[name]
    seg = tmp_path / "seg.xml"
    seg.write_bytes(data)
    start, peak = time.monotonic(), peak_mb()
    with deadline(PER_INPUT_SECONDS):
        result = run_lines(reader, seg, capfd)
    assert_clean(*result, name)
    assert time.monotonic() - start < PER_INPUT_SECONDS and peak_mb() - peak < 1000
    if name.startswith(("xxe", "billion")):
        assert result[0] == 1 and "entities" in result[2]
    with deadline(PER_INPUT_SECONDS):  # the readers alone, as htr convert and htr eval use them
        check(lambda: parse_document(data.decode("utf-8")), data, name.replace(" ", "-"), tmp_path)


def test_fuzz_page_lines(reader, tmp_path, capfd):
    """Mutated PAGE and ALTO segmentations of the example letter read with `htr page --lines`."""
    seeds = {suffix: (EXAMPLES / f"letter{suffix}").read_bytes() for suffix in (".page.xml", ".alto.xml", ".gt.xml")}
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    tokens = (*XML_TOKENS, f'<!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'.encode())

    def run(data: bytes, suffix: str) -> None:
        seg = tmp_path / f"seg{suffix}"
        seg.write_bytes(data)
        assert_clean(*run_lines(reader, seg, capfd), f"lines{suffix}")

    assert fuzz("lines", seeds, run, tmp_path, SHARE["lines"], tokens, capfd) > 0
