"""`htr batch`: a folder of real files in (synthetic pages as PNG/JPEG, a 2-frame TIFF, a PDF, corrupt files),
documents, a manifest and a failure list out; interrupted with SIGINT and resumed as a user would."""
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr import batch
from htr.cli import main
from htr.formats import read_document
from htr.paths import WEIGHTS_DIR
from tests.test_synth import fonts_subset  # noqa: F401 (fixture)

MISSING = [f"htr/weights/{name}" for name in ("det.pt", "rec.pt") if not (WEIGHTS_DIR / name).is_file()]
needs_weights = pytest.mark.skipif(bool(MISSING), reason=f"{' and '.join(MISSING)} not found: `htr batch` "
                                                         "needs the trained detector and recogniser")

PAGES = {  # key -> (input under IN_DIR, page number)
    "p1": ("p1.png", None),
    "p2": ("p2.jpg", None),
    "sub/p3": ("sub/p3.png", None),
    "sub/scan_p0001": ("sub/scan.TIF", 1),
    "sub/scan_p0002": ("sub/scan.TIF", 2),
    "doc_p0001": ("doc.pdf", 1),
}
CORRUPT = {"bad/truncated.jpg", "bad/not_an_image.png", "empty.jpg", "broken.pdf"}
SUFFIXES = {"page": ".page.xml", "alto": ".alto.xml", "hocr": ".hocr", "text": ".txt", "json": ".json"}


def small(image: np.ndarray, side: int = 1000) -> Image.Image:
    im = Image.fromarray(image)
    scale = side / max(im.size)
    return im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS) if scale < 1 else im


@pytest.fixture(scope="module")
def in_dir(tmp_path_factory, fonts_subset) -> Path:  # noqa: F811 (fonts fetched into the cache when missing)
    """Six pages in five files (one in a sub-folder, a 2-frame TIFF, a 1-page PDF) and four corrupt files."""
    from htr.synth.pages import render_page

    root = tmp_path_factory.mktemp("scans")
    (root / "sub").mkdir()
    (root / "bad").mkdir()
    pages = [small(render_page(np.random.default_rng(seed))[0]) for seed in (1, 2, 3)]
    # A fresh copy for every save: Pillow keeps one save's options on the image for the next.
    pages[0].copy().save(root / "p1.png")
    pages[1].copy().save(root / "p2.jpg", quality=90)
    pages[2].copy().save(root / "sub/p3.png")
    pages[1].copy().save(root / "sub/scan.TIF", save_all=True, append_images=[pages[2].copy()])
    pages[0].copy().save(root / "doc.pdf", resolution=200)  # 200 dpi: rendered back at the same size
    jpeg = io.BytesIO()
    pages[0].copy().save(jpeg, "JPEG")
    (root / "bad/truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 3])
    (root / "bad/not_an_image.png").write_text("this is not a PNG\n")
    (root / "empty.jpg").write_bytes(b"")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    return root


def manifest(out: Path) -> list[dict]:
    path = out / batch.MANIFEST
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def failures(out: Path) -> list[list[str]]:
    rows = [line.split("\t") for line in (out / batch.FAILURES).read_text().splitlines()]
    assert rows[0] == ["input", "page", "error"]
    return rows[1:]


def temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.endswith(".part") or p.name.startswith(".")]


# ----------------------------------------------------------------------------------- without the models

def test_find_pages_keys_inputs_and_leaves_out_dir_alone(tmp_path):
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "out").mkdir()
    grey = Image.new("RGB", (40, 30), (200, 200, 200))
    grey.save(root / "a.png")
    grey.save(root / "a.JPG")  # same key as a.png: both keep their suffix
    grey.save(root / "sub/b.tiff", save_all=True, append_images=[Image.new("RGB", (40, 30), (0, 0, 255))])
    grey.save(root / "sub/one.tif")  # one frame: a plain image
    Image.new("RGB", (400, 300), "white").save(root / "c.pdf", resolution=100)
    grey.save(root / "out/previous.png")  # OUT_DIR inside IN_DIR is not input
    grey.save(root / ".hidden.png")
    (root / "notes.txt").write_text("not a page")

    jobs, failed = batch.find_pages(root, root / "out")
    assert failed == []
    assert {job.key: (job.input.relative_to(root).as_posix(), job.page) for job in jobs} == {
        "a.JPG": ("a.JPG", None), "a.png": ("a.png", None), "c_p0001": ("c.pdf", 1),
        "sub/b_p0001": ("sub/b.tiff", 1), "sub/b_p0002": ("sub/b.tiff", 2), "sub/one": ("sub/one.tif", None)}
    by_key = {job.key: job for job in jobs}
    assert batch.load_page(by_key["sub/b_p0002"])[0, 0].tolist() == [0, 0, 255]
    assert batch.load_page(by_key["c_p0001"]).shape == (600, 800, 3)  # 4 x 3 inches at 200 dpi


def test_fatal_errors_exit_1(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 1
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not a page")
    assert main(["batch", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "no images" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- with the models

@needs_weights
def test_batch_writes_every_format_and_records_failures(in_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["batch", str(in_dir), str(out), "--formats", "page,alto,hocr,text,json", "--quiet"])
    err = capsys.readouterr().err
    assert code == 3, err  # partial failure
    # 9 pages: 6 good ones and the 3 corrupt images; the broken PDF cannot be opened to count its pages
    assert "9 pages found in 8 files, 1 unreadable; 0 already done" in err, err
    assert "6 done, 0 skipped, 4 failed" in err, err

    expected = {key + suffix for key in PAGES for suffix in SUFFIXES.values()}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == expected | {batch.MANIFEST, batch.FAILURES}
    for key, (name, page) in PAGES.items():
        image = batch.load_page(batch.PageJob(in_dir / name, page, key))
        texts = []
        for fmt, suffix in SUFFIXES.items():
            doc = read_document(out / (key + suffix))
            if fmt != "text":
                assert (doc.width, doc.height) == (image.shape[1], image.shape[0]), (key, fmt)
            texts.append(doc.text.split())
        assert all(t == texts[0] for t in texts), key  # every format holds the same text

    assert sorted(row[0] for row in failures(out)) == sorted(CORRUPT)
    assert all(row[1] == "" and row[2] for row in failures(out))

    records = manifest(out)
    assert len(records) == len(PAGES)
    assert {(r["input"], r["page"]) for r in records} == set(PAGES.values())
    for r in records:
        assert len(r["outputs"]) == 5 and all((out / o).is_file() for o in r["outputs"])
        assert r["seconds"] > 0 and r["lines"] >= 0 and r["words"] >= 0
        assert r["mean_confidence"] is None or 0 <= r["mean_confidence"] <= 1


@needs_weights
def test_interrupted_batch_resumes_where_it_stopped(in_dir, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "htr.cli", "batch", str(in_dir), str(out), "--formats", "page,text"]
    with open(tmp_path / "first.err", "w") as stderr:
        # SIGINT as the default, whatever the test runner inherited, so that Python turns it into Ctrl-C.
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 90
        while not list(out.rglob("*.page.xml")) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before it could be interrupted"
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=60)
    first_err = (tmp_path / "first.err").read_text()
    assert code == 130, first_err
    assert "interrupted" in first_err
    assert temporaries(out) == []
    done = manifest(out)
    assert 1 <= len(done) < len(PAGES), first_err
    finished = {o for r in done for o in r["outputs"]}
    assert finished == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.suffix in (".xml", ".txt")}
    mtimes = {o: (out / o).stat().st_mtime_ns for o in finished}

    second = subprocess.run(command + ["--quiet"], capture_output=True, text=True, timeout=180)
    assert second.returncode == 3, second.stderr
    assert f"{len(done)} already done, skipped" in second.stderr
    assert temporaries(out) == []
    records = manifest(out)
    assert sorted((r["input"], r["page"] or 0) for r in records) == sorted((n, p or 0) for n, p in PAGES.values())
    assert records[: len(done)] == done  # the first run's lines kept, nothing redone
    assert {o: (out / o).stat().st_mtime_ns for o in finished} == mtimes
    assert all((out / (key + s)).is_file() for key in PAGES for s in (".page.xml", ".txt"))
    assert sorted(row[0] for row in failures(out)) == sorted(CORRUPT)
