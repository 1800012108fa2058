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
from htr.evaluate import cer
from htr.formats import read_document
from htr.pipeline import Reader
from htr.paths import WEIGHTS_DIR
from htr.storage import Folder
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
# CER of the synthetic pages' text read back, near what the shipped weights do (0.185, 0.475, 0.605: small
# pages, p3 a form of short fields); blank or scrambled text is far above.
BATCH_CER = {"p1": 0.3, "p2": 0.65, "sub/p3": 0.75}
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
    rendered = [render_page(np.random.default_rng(seed)) for seed in (1, 2, 3)]
    pages = [small(image) for image, _ in rendered]
    for name, (_, truth) in zip(("p1", "p2", "p3"), rendered):
        (root / f"{name}.truth.txt").write_text(truth.text, encoding="utf-8")  # not an input: .txt
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

    jobs, failed = batch.find_pages(Folder.at(root), Folder.at(root / "out"))
    assert failed == []
    assert {job.key: (job.input, job.page) for job in jobs} == {
        "a.JPG": ("a.JPG", None), "a.png": ("a.png", None), "c_p0001": ("c.pdf", 1),
        "sub/b_p0001": ("sub/b.tiff", 1), "sub/b_p0002": ("sub/b.tiff", 2), "sub/one": ("sub/one.tif", None)}
    by_key = {job.key: job for job in jobs}
    assert batch.load_page(Folder.at(root), by_key["sub/b_p0002"])[0, 0].tolist() == [0, 0, 255]
    assert batch.load_page(Folder.at(root), by_key["c_p0001"]).shape == (600, 800, 3)  # 4 x 3 inches at 200 dpi


def pdf_texts(path: Path) -> list[str]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(path))
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def test_combine_pdf_joins_the_page_pdfs_in_page_order_once(tmp_path):
    from htr.formats import write_pdf
    from tests.conftest import make_page

    page = make_page()
    other = make_page()
    other.blocks = other.blocks[:1]
    other.blocks[0].lines = other.blocks[0].lines[:1]
    jobs = [batch.PageJob("scan.tif", n, f"sub/scan_p{n:04d}") for n in (2, 1)]  # any order
    out = Folder.at(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/scan_p0001.pdf").write_bytes(write_pdf(page, np.full((140, 100, 3), 255, np.uint8)))
    assert not batch.combine_pdf(jobs, out, "t")  # page 2's PDF missing: nothing written
    (tmp_path / "sub/scan_p0002.pdf").write_bytes(write_pdf(other, np.full((140, 100, 3), 255, np.uint8)))
    assert not batch.combine_pdf(jobs, out, "t", taken={"sub/scan"})  # sub/scan.pdf is another page's
    assert not (tmp_path / "sub/scan.pdf").exists()
    assert batch.combine_pdf(jobs, out, "t")
    combined = tmp_path / "sub/scan.pdf"
    assert pdf_texts(combined) == pdf_texts(tmp_path / "sub/scan_p0001.pdf") + \
        pdf_texts(tmp_path / "sub/scan_p0002.pdf")
    assert len(pdf_texts(combined)) == 2 and pdf_texts(combined)[0] != pdf_texts(combined)[1]
    mtime = combined.stat().st_mtime_ns
    assert not batch.combine_pdf(jobs, out, "t") and combined.stat().st_mtime_ns == mtime  # up to date
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["scan.pdf", "scan_p0001.pdf", "scan_p0002.pdf"]


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
        image = batch.load_page(Folder.at(in_dir), batch.PageJob(name, page, key))
        docs = {fmt: read_document(out / (key + suffix)) for fmt, suffix in SUFFIXES.items()}
        full = docs["json"]  # every format read back holds what the richest one does
        for fmt, doc in docs.items():
            assert doc.text.split() == full.text.split(), (key, fmt)
            if fmt != "text":
                assert (doc.width, doc.height) == (image.shape[1], image.shape[0]), (key, fmt)
                assert [len(ln.words) for ln in doc.lines] == [len(ln.words) for ln in full.lines], (key, fmt)
        for fmt in ("page", "alto"):  # word polygons kept (whole pixels in XML: x.5 may round either way)
            kept, exact = list(docs[fmt].words()), list(full.words())
            assert len(kept) == len(exact), (key, fmt)
            for w, x in zip(kept, exact):
                assert w.polygon.shape == x.polygon.shape and np.abs(w.polygon - x.polygon).max() <= 0.5 + 1e-3, \
                    (key, fmt)
        if key in BATCH_CER:  # the right text, not only the same one everywhere
            truth = (in_dir / f"{Path(name).stem}.truth.txt").read_text(encoding="utf-8")
            assert cer(full.text, truth) < BATCH_CER[key], key
    first = batch.load_page(Folder.at(in_dir), batch.PageJob("p1.png", None, "p1"))
    assert read_document(out / "p1.json").text == Reader().read(first).text  # as read_page reads it

    assert sorted(row[0] for row in failures(out)) == sorted(CORRUPT)
    assert all(row[1] == "" and row[2] for row in failures(out))

    records = manifest(out)
    assert len(records) == len(PAGES)
    assert {(r["input"], r["page"]) for r in records} == set(PAGES.values())
    for r in records:
        assert len(r["outputs"]) == 5 and all((out / o).is_file() for o in r["outputs"])
        doc = read_document(out / next(o for o in r["outputs"] if o.endswith(".json")))
        assert r["seconds"] > 0 and r["lines"] == len(doc.lines) > 0 and r["words"] == len(list(doc.words()))
        assert r["mean_confidence"] == pytest.approx(np.mean([ln.confidence for ln in doc.lines]), abs=1e-3)


@needs_weights
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_batch_resumes_where_it_stopped(in_dir, tmp_path, stop):
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
        run.send_signal(stop)
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


@needs_weights
def test_pdf_output_gives_one_pdf_per_input(in_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(in_dir), str(out), "--formats", "pdf", "--quiet"]) == 3  # the corrupt files
    assert "6 done, 0 skipped, 4 failed, 2 combined PDFs written" in capsys.readouterr().err
    pdfs = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {batch.MANIFEST,
                                                                                       batch.FAILURES}
    assert pdfs == {key + ".pdf" for key in PAGES} | {"sub/scan.pdf", "doc.pdf"}  # page PDFs kept
    assert pdf_texts(out / "sub/scan.pdf") == pdf_texts(out / "sub/scan_p0001.pdf") + \
        pdf_texts(out / "sub/scan_p0002.pdf")  # the 2-frame TIFF: one PDF of 2 pages, in page order
    assert len(pdf_texts(out / "sub/scan.pdf")) == 2 and all(pdf_texts(out / "sub/scan.pdf"))
    assert pdf_texts(out / "doc.pdf") == pdf_texts(out / "doc_p0001.pdf")  # a 1-page PDF: a 1-page PDF
    assert len(manifest(out)) == len(PAGES)  # a line per page, none for the combined PDFs
    mtimes = {name: (out / name).stat().st_mtime_ns for name in pdfs}

    assert main(["batch", str(in_dir), str(out), "--formats", "pdf", "--quiet"]) == 3  # resumed: nothing new
    assert "0 done, 6 skipped, 4 failed in" in capsys.readouterr().err
    assert {name: (out / name).stat().st_mtime_ns for name in pdfs} == mtimes
    (out / "sub/scan.pdf").unlink()  # a run stopped before it was written: the next one writes it
    assert main(["batch", str(in_dir), str(out), "--formats", "pdf", "--quiet"]) == 3
    assert "0 done, 6 skipped, 4 failed, 1 combined PDF written" in capsys.readouterr().err
    assert pdf_texts(out / "sub/scan.pdf") == pdf_texts(out / "sub/scan_p0001.pdf") + \
        pdf_texts(out / "sub/scan_p0002.pdf")
    assert temporaries(out) == [] and len(manifest(out)) == len(PAGES)


@needs_weights
def test_a_batch_reads_from_and_writes_to_an_fsspec_url(in_dir, tmp_path, capsys):
    """memory:// in and out (object storage as fsspec gives it: no local paths, no renames); the same pages,
    failures, combined PDFs and resuming as a local run, and error messages naming the input's URL."""
    import fsspec

    memory = fsspec.filesystem("memory")
    root = f"/batch-{tmp_path.name}"
    memory.put(str(in_dir), f"{root}/scans", recursive=True)
    command = ["batch", f"memory://{root}/scans", f"memory://{root}/out", "--formats", "text,pdf", "--quiet"]
    assert main(command) == 3
    err = capsys.readouterr().err
    assert "6 done, 0 skipped, 4 failed, 2 combined PDFs written" in err, err
    out = tmp_path / "out"
    memory.get(f"{root}/out", str(out), recursive=True)
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == \
        {key + s for key in PAGES for s in (".txt", ".pdf")} | {"sub/scan.pdf", "doc.pdf", batch.MANIFEST,
                                                                  batch.FAILURES}  # no temporary names
    first = batch.load_page(Folder.at(in_dir), batch.PageJob("p1.png", None, "p1"))
    assert (out / "p1.txt").read_text(encoding="utf-8").strip() == Reader().read(first).text.strip()
    assert len(pdf_texts(out / "sub/scan.pdf")) == 2
    assert sorted(row[0] for row in failures(out)) == sorted(CORRUPT)
    assert not any("htr-" in row[2] for row in failures(out))  # no temporary copy's path in a message
    assert {(r["input"], r["page"]) for r in manifest(out)} == set(PAGES.values())

    assert main(command) == 3  # resumed: nothing new
    assert "0 done, 6 skipped, 4 failed in" in capsys.readouterr().err


@pytest.fixture
def one_page(in_dir, tmp_path) -> Path:
    """A folder holding one good page."""
    folder = tmp_path / "clean"
    folder.mkdir()
    (folder / "p1.png").write_bytes((in_dir / "p1.png").read_bytes())
    return folder


@needs_weights
def test_exit_codes_done_already_done_bad_arguments_and_models_that_cannot_load(one_page, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(one_page), str(out), "--quiet"]) == 0
    assert "1 done, 0 skipped, 0 failed" in capsys.readouterr().err
    assert main(["batch", str(one_page), str(out), "--quiet"]) == 0  # everything already done
    assert "1 already done, skipped; 0 to read" in capsys.readouterr().err
    for bad in (["--formats", "docx"], ["--workers", "0"], ["--bogus"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["batch", str(one_page), str(out), *bad])
        assert exit_info.value.code == 2, bad
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a model at all")
    for option, weights in (("--rec-weights", corrupt), ("--det-weights", tmp_path / "missing.pt")):
        fresh = tmp_path / f"out{option}"
        assert main(["batch", str(one_page), str(fresh), option, str(weights), "--quiet"]) == 1, option
        err = capsys.readouterr().err
        assert "htr: error: " in err and weights.name in err, err
        assert not list(fresh.rglob("*.xml")) and manifest(fresh) == []


@needs_weights
def test_two_workers_write_what_one_does(in_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    good = tmp_path / "good"
    for name in ("p1.png", "p2.jpg", "sub/p3.png"):
        (good / name).parent.mkdir(parents=True, exist_ok=True)
        (good / name).write_bytes((in_dir / name).read_bytes())
    assert main(["batch", str(good), str(one), "--formats", "json", "--quiet"]) == 0
    assert main(["batch", str(good), str(two), "--formats", "json", "--workers", "2", "--quiet"]) == 0
    for key in ("p1", "p2", "sub/p3"):
        a, b = read_document(one / f"{key}.json"), read_document(two / f"{key}.json")
        assert a.text == b.text and len(a.lines) == len(b.lines) > 0, key
    assert sorted(r["input"] for r in manifest(two)) == ["p1.png", "p2.jpg", "sub/p3.png"]


@needs_weights
def test_asking_for_more_formats_redoes_the_pages_that_lack_them(one_page, tmp_path):
    out = tmp_path / "out"
    assert main(["batch", str(one_page), str(out), "--formats", "text", "--quiet"]) == 0
    assert main(["batch", str(one_page), str(out), "--formats", "text,page,alto", "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} == {"p1.txt", "p1.page.xml", "p1.alto.xml", batch.MANIFEST,
                                               batch.FAILURES}
    assert read_document(out / "p1.page.xml").text.split() == (out / "p1.txt").read_text().split()
    assert len(manifest(out)) == 2 and main(["batch", str(one_page), str(out), "--formats", "page",
                                             "--quiet"]) == 0 and len(manifest(out)) == 2


@needs_weights
@pytest.mark.shared
def test_batch_outputs_validate_against_the_schemas(one_page, tmp_path):
    from tests.shared import validate

    out = tmp_path / "out"
    assert main(["batch", str(one_page), str(out), "--formats", "page,alto", "--quiet"]) == 0
    validate((out / "p1.page.xml").read_bytes(), "page2019")
    validate((out / "p1.alto.xml").read_bytes(), "alto4")
