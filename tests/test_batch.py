"""``htr.batch.run`` and `htr batch`, a thin shell over it: a folder of real files in (synthetic pages as PNG/JPEG,
a 2-frame TIFF, a PDF, corrupt files), documents, a manifest, a failure list and a ``Summary`` out; the command
interrupted with SIGINT and resumed as a user would."""
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
from htr.errors import HTRError
from htr.evaluate import cer
from htr.formats import read_document
from htr.pipeline import Reader
from htr.paths import WEIGHTS_DIR
from htr.batch.storage import Folder
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
def test_batch_writes_every_format_and_records_failures(in_dir, tmp_path):
    out = tmp_path / "out"
    summary = batch.run(in_dir, out, "page,alto,hocr,text,json")
    assert summary.exit_code == 3, summary  # partial failure
    # 9 pages: 6 good ones and the 3 corrupt images; the broken PDF cannot be opened to count its pages
    assert (summary.found, summary.files, summary.skipped) == (9, 8, 0), summary
    assert (summary.done, summary.failed) == (6, 4), summary

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
def counts(summary: batch.Summary) -> tuple[int, ...]:
    return summary.done, summary.skipped, summary.failed, summary.combined


def test_pdf_output_gives_one_pdf_per_input(in_dir, tmp_path):
    out = tmp_path / "out"
    first = batch.run(in_dir, out, "pdf")
    assert first.exit_code == 3 and counts(first) == (6, 0, 4, 2), first  # the corrupt files
    pdfs = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {batch.MANIFEST,
                                                                                       batch.FAILURES}
    assert pdfs == {key + ".pdf" for key in PAGES} | {"sub/scan.pdf", "doc.pdf"}  # page PDFs kept
    assert pdf_texts(out / "sub/scan.pdf") == pdf_texts(out / "sub/scan_p0001.pdf") + \
        pdf_texts(out / "sub/scan_p0002.pdf")  # the 2-frame TIFF: one PDF of 2 pages, in page order
    assert len(pdf_texts(out / "sub/scan.pdf")) == 2 and all(pdf_texts(out / "sub/scan.pdf"))
    assert pdf_texts(out / "doc.pdf") == pdf_texts(out / "doc_p0001.pdf")  # a 1-page PDF: a 1-page PDF
    assert len(manifest(out)) == len(PAGES)  # a line per page, none for the combined PDFs
    mtimes = {name: (out / name).stat().st_mtime_ns for name in pdfs}

    assert counts(batch.run(in_dir, out, "pdf")) == (0, 6, 4, 0)  # resumed: nothing new
    assert {name: (out / name).stat().st_mtime_ns for name in pdfs} == mtimes
    (out / "sub/scan.pdf").unlink()  # a run stopped before it was written: the next one writes it
    assert counts(batch.run(in_dir, out, "pdf")) == (0, 6, 4, 1)
    assert pdf_texts(out / "sub/scan.pdf") == pdf_texts(out / "sub/scan_p0001.pdf") + \
        pdf_texts(out / "sub/scan_p0002.pdf")
    assert temporaries(out) == [] and len(manifest(out)) == len(PAGES)


@needs_weights
def test_a_batch_reads_from_and_writes_to_an_fsspec_url(in_dir, tmp_path):
    """memory:// in and out (object storage as fsspec gives it: no local paths, no renames); the same pages,
    failures, combined PDFs and resuming as a local run, and error messages naming the input's URL."""
    import fsspec

    memory = fsspec.filesystem("memory")
    root = f"/batch-{tmp_path.name}"
    memory.put(str(in_dir), f"{root}/scans", recursive=True)
    run = [f"memory://{root}/scans", f"memory://{root}/out", "text,pdf"]
    summary = batch.run(*run)
    assert summary.exit_code == 3 and counts(summary) == (6, 0, 4, 2), summary
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

    assert counts(batch.run(*run)) == (0, 6, 4, 0)  # resumed: nothing new


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
    assert batch.run(good, one, "json").exit_code == 0
    assert batch.run(good, two, "json", workers=2).exit_code == 0
    for key in ("p1", "p2", "sub/p3"):
        a, b = read_document(one / f"{key}.json"), read_document(two / f"{key}.json")
        assert a.text == b.text and len(a.lines) == len(b.lines) > 0, key
    assert sorted(r["input"] for r in manifest(two)) == ["p1.png", "p2.jpg", "sub/p3.png"]


@needs_weights
def test_asking_for_more_formats_redoes_the_pages_that_lack_them(one_page, tmp_path):
    out = tmp_path / "out"
    assert batch.run(one_page, out, "text").done == 1
    assert batch.run(one_page, out, "text,page,alto").done == 1
    assert {p.name for p in out.iterdir()} == {"p1.txt", "p1.page.xml", "p1.alto.xml", batch.MANIFEST,
                                               batch.FAILURES}
    assert read_document(out / "p1.page.xml").text.split() == (out / "p1.txt").read_text().split()
    assert len(manifest(out)) == 2 and batch.run(one_page, out, "page").skipped == 1 and len(manifest(out)) == 2


@needs_weights
@pytest.mark.shared
def test_batch_outputs_validate_against_the_schemas(one_page, tmp_path):
    from tests.shared import validate

    out = tmp_path / "out"
    assert batch.run(one_page, out, "page,alto").exit_code == 0
    validate((out / "p1.page.xml").read_bytes(), "page2019")
    validate((out / "p1.alto.xml").read_bytes(), "alto4")


# ----------------------------------------------------------------------------------- htr.batch.run, its options

class FakeReader:
    """Reads any page as one line, "page WxH", without models: the batch's own work alone."""

    def read(self, image, source=None):
        from htr.document import Block, Line, Page, box_polygon

        h, w = image.shape[:2]
        line = Line(box_polygon(1, 1, w - 1, h - 1), f"page {w}x{h}", 0.9)
        return Page(w, h, [Block(box_polygon(1, 1, w - 1, h - 1), [line])], source=source)


def scans(root: Path) -> Path:
    """Two single images and a 3-frame TIFF (frames 50, 60 and 70 px wide) in ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), "white").save(root / "a.png")
    Image.new("RGB", (45, 30), "white").save(root / "b.jpg")
    frames = [Image.new("RGB", (w, 30), "white") for w in (50, 60, 70)]
    frames[0].save(root / "multi.tif", save_all=True, append_images=frames[1:])
    return root


def test_run_returns_the_summary_and_resumes(tmp_path):
    folder, out = scans(tmp_path / "in"), tmp_path / "out"
    (folder / "bad.png").write_text("not a PNG")
    summary = batch.run(folder, out, "text,json", reader=FakeReader())
    assert isinstance(summary, batch.Summary)
    assert (summary.found, summary.files, summary.done, summary.skipped, summary.failed) == (6, 4, 5, 0, 1)
    assert summary.exit_code == batch.EXIT_PARTIAL and not summary.interrupted and summary.seconds > 0
    assert [f.input for f in summary.failures] == ["bad.png"] and summary.failures_file.endswith(batch.FAILURES)
    assert "5 done, 0 skipped, 1 failed in" in str(summary)
    assert [(out / f"multi_p000{n}.txt").read_text().strip() for n in (1, 2, 3)] == \
        ["page 50x30", "page 60x30", "page 70x30"]
    assert len(manifest(out)) == 5 and read_document(out / "a.json").text == "page 40x30"
    (folder / "bad.png").unlink()
    again = batch.run(folder, out, ("text", "json"), reader=FakeReader())
    assert (again.done, again.skipped, again.failed, again.exit_code) == (0, 5, 0, batch.EXIT_OK)
    with pytest.raises(HTRError, match="unknown format"):
        batch.run(folder, out, "docx", reader=FakeReader())


def test_a_multi_page_file_on_object_storage_is_downloaded_once(tmp_path, monkeypatch):
    import fsspec

    memory = fsspec.filesystem("memory")
    root = f"/once-{tmp_path.name}"
    memory.put(str(scans(tmp_path / "in")), f"{root}/scans", recursive=True)
    fetched = []
    original = type(memory).get_file
    monkeypatch.setattr(type(memory), "get_file",
                        lambda self, path, *args, **kw: fetched.append(path) or original(self, path, *args, **kw))
    summary = batch.run(f"memory://{root}/scans", f"memory://{root}/out", "text", reader=FakeReader())
    assert (summary.done, summary.failed) == (5, 0)
    assert sorted(p.rsplit("/", 1)[1] for p in fetched) == ["a.png", "b.jpg", "multi.tif"]  # each file once
    assert memory.cat_file(f"{root}/out/multi_p0003.txt").decode().strip() == "page 70x30"


def test_batch_reader_options_reach_the_reader(tmp_path, monkeypatch, capsys):
    """htr batch's reader options are those of htr page (``ReaderOptions``), --no-orient and --batch-size too."""
    from htr import pipeline
    from htr.options import ReaderOptions

    built = []

    class Recorded(FakeReader):
        def __init__(self, options=None, **changes):
            built.append(options)

    monkeypatch.setattr(pipeline, "Reader", Recorded)
    folder = scans(tmp_path / "in")
    assert main(["batch", str(folder), str(tmp_path / "out"), "--no-orient", "--batch-size", "4", "--beam", "0",
                 "--threads", "1", "--quiet"]) == 0
    assert "5 done, 0 skipped, 0 failed" in capsys.readouterr().err
    assert built == [ReaderOptions(beam=0, orient=False, batch_size=4, threads=1)]
    with pytest.raises(SystemExit):
        main(["batch", str(folder), str(tmp_path / "out"), "--batch-size", "0"])


@needs_weights
def test_batch_no_orient_reads_a_sideways_page_as_it_lies(tmp_path):
    from htr.orientation import rotate

    folder = tmp_path / "in"
    folder.mkdir()
    letter = np.asarray(small(np.asarray(Image.open(Path(__file__).parents[1] / "examples/letter.jpg")), 800))
    Image.fromarray(rotate(letter, 3)).save(folder / "sideways.png")
    for option, rotation in (([], 90), (["--no-orient"], 0)):
        out = tmp_path / f"out{len(option)}"
        assert main(["batch", str(folder), str(out), "--formats", "json", "--quiet", *option]) == 0
        assert read_document(out / "sideways.json").rotation == rotation, option
