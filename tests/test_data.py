"""`htr data compile` on ground truth the tests write: what is left out and why, the split, the round trip."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from htr.cli import main
from htr.data.compile import Source, compile_corpus, doc_hash, split_of
from htr.data.corpus import open_lines, open_pages
from htr.data.normalize import normalize_text, unusable
from htr.document import Block, Line, Page, box_polygon
from htr.formats import write_page_xml
from htr.geometry import crop_page_lines
from htr.imageio import load_image
from htr.modelfile import load_model_file

TEXTS = ["the quick brown fox", "jumps over the lazy dog", "Sphinx of black quartz", "judge my vow 1895"]


def write_page(folder: Path, stem: str, texts: list[str], extra_lines=()) -> Path:
    """A page image with ``texts`` drawn one per line, and its PAGE-XML (plus ``extra_lines``: Line objects)."""
    image = np.full((100 + 60 * len(texts), 900, 3), 235, np.uint8)
    lines = []
    for i, text in enumerate(texts):
        y = 60 + 60 * i
        cv2.putText(image, text, (30, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2, cv2.LINE_AA)
        lines.append(Line(box_polygon(20, y - 32, 40 + 22 * len(text), y + 12), text, id=f"l{i}"))
    lines += list(extra_lines)
    cv2.imwrite(str(folder / f"{stem}.jpg"), image[:, :, ::-1])
    page = Page(width=900, height=image.shape[0], source=f"{stem}.jpg",
                blocks=[Block(box_polygon(0, 0, 900, image.shape[0]), lines=lines, id="r1")])
    xml = folder / f"{stem}.xml"
    xml.write_text(write_page_xml(page), encoding="utf-8")
    return xml


@pytest.fixture
def gt(tmp_path) -> Path:
    """Ground truth with one of each problem beside good pages."""
    folder = tmp_path / "gt"
    (folder / "letters").mkdir(parents=True)
    for k in range(6):
        write_page(folder / "letters", f"good{k}", TEXTS[k % 2:][:3])
    write_page(folder, "mixed", TEXTS[:2], extra_lines=[
        Line(box_polygon(2000, 10, 2400, 50), "outside the image", id="out"),
        Line(box_polygon(20, 150, 600, 190), "", id="empty"),
        Line(np.array([[20, 200], [300, 200], [160, 200]], np.float32), "a degenerate line", id="tiny"),
        Line(box_polygon(20, 120, 60, 160), "a crop far too thin for all of this text", id="thin"),
        Line(box_polygon(300, 120, 700, 160), "Ωmega ꝝ", id="charset"),
        Line(box_polygon(300, 160, 700, 200), "illegible [?] word", id="placeholder"),
    ])
    truncated = write_page(folder, "truncated", TEXTS[:1])
    data = truncated.with_suffix(".jpg").read_bytes()
    truncated.with_suffix(".jpg").write_bytes(data[: len(data) // 3])
    write_page(folder, "noimage", TEXTS[:1]).with_suffix(".jpg").unlink()
    (folder / "broken.xml").write_text("<PcGts><Page imageFilename='x.jpg'><TextRegion>", encoding="utf-8")
    return folder


def reasons(corpus: Path) -> dict[str, str]:
    report = json.loads((corpus / "gt" / "report.json").read_text())
    return {Path(e["where"]).name: e["reason"] for e in report["left_out"]}


def test_compile_reports_every_problem_and_compiles_the_rest(gt, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    assert main(["data", "compile", str(gt), "-o", str(corpus), "--quiet"]) == 0
    found = reasons(corpus)
    assert found["mixed.xml:out"] == "polygon outside the image"
    assert found["mixed.xml:empty"] == "empty text"
    assert found["mixed.xml:tiny"] == "degenerate polygon"
    assert found["mixed.xml:thin"].startswith("crop far too thin for its text")
    assert found["mixed.xml:placeholder"].startswith("placeholder in the text")
    assert found["truncated.xml"].startswith("unreadable image")
    assert found["noimage.xml"].startswith("missing image")
    assert found["broken.xml"].startswith("malformed XML")
    lines = open_lines(corpus)
    assert len(lines) == 6 * 3 + 2 + 1  # the good pages, the mixed page's two good lines and its "Ωmega ꝝ"
    assert "Ωmega ꝝ" in lines.texts
    printed = capsys.readouterr().out
    assert "not emitted by the shipped recogniser" in printed and "'Ω' U+03A9" in printed and "'ꝝ' U+A75D" in printed
    for what in ("outside the image", "empty text", "malformed XML", "unreadable image", "missing image"):
        assert what in printed and what in (corpus / "report.txt").read_text()
    assert sum(len(p) for p in open_pages(corpus).values()) == 7  # six good pages and the mixed one


def test_corpus_round_trips_crops_and_texts(gt, tmp_path):
    corpus = tmp_path / "corpus"
    compile_corpus([Source("gt", [(gt / "letters", "hash")])], corpus, height=40, quiet=True)
    lines = open_lines(corpus)
    from htr.formats import read_document

    expected = {}
    for xml in sorted((gt / "letters").glob("*.xml")):
        page = read_document(xml)
        for line, crop in zip(page.lines, crop_page_lines(load_image(xml.with_suffix(".jpg")), page.lines, 40)):
            expected[(xml.stem, line.id)] = (crop.image, normalize_text(line.text))
    assert len(lines) == len(expected) == 18
    for i, name in enumerate(lines.names):
        doc, page, line_id = name.split("/", 1)[1].split(":")
        image, text = expected[(page, line_id)]
        assert lines.texts[i] == text and lines.image(i).shape == image.shape
        assert np.array_equal(lines.image(i), image)


def test_split_is_by_document_and_identical_across_runs_and_workers(gt, tmp_path):
    def compiled(folder, workers):
        source = Source("gt", [(gt / "letters", "hash")], document=r"good(\d)")
        compile_corpus([source], folder, 40, dev_share=0.5, workers=workers, quiet=True)
        return (folder / "gt" / "lines.jsonl").read_text(), (folder / "gt" / "crops.u8").read_bytes()

    one, again, two = compiled(tmp_path / "a", 1), compiled(tmp_path / "b", 1), compiled(tmp_path / "c", 2)
    assert one == again == two
    rows = [json.loads(r) for r in one[0].splitlines()]
    splits = {r["doc"]: r["split"] for r in rows}
    assert set(splits.values()) == {"train", "dev"}  # at a share of 0.5, six documents fall on both sides
    assert all(splits[r["doc"]] == split_of("gt", r["doc"], 0.5) for r in rows)


def test_a_source_split_by_hash_always_has_a_dev_document(gt, tmp_path):
    source = Source("gt", [(gt / "letters", "hash")], document=r"good(\d)")
    docs = [str(k) for k in range(6)]
    assert not any(split_of("gt", d, 0.01) == "dev" for d in docs)  # the hash alone holds none out at 1%
    compile_corpus([source], tmp_path / "corpus", 40, dev_share=0.01, quiet=True)
    rows = [json.loads(r) for r in (tmp_path / "corpus" / "gt" / "lines.jsonl").read_text().splitlines()]
    dev_docs = {r["doc"] for r in rows if r["split"] == "dev"}
    lowest = min(docs, key=lambda d: doc_hash("gt", d))
    assert dev_docs == {lowest} and {r["doc"] for r in rows} == set(docs)
    one = Source("one", [(gt / "letters", "hash")], document="folder")  # a single document stays in train
    compile_corpus([one], tmp_path / "single", 40, dev_share=0.01, quiet=True)
    assert {json.loads(r)["split"] for r in (tmp_path / "single" / "one" / "lines.jsonl").read_text().splitlines()} \
        == {"train"}


def test_marked_folders_and_second_run_is_a_no_op(gt, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    args = ["data", "compile", f"{gt / 'letters'}:dev", f"more={gt / 'letters'}", "-o", str(corpus), "--quiet"]
    assert main(args) == 0
    assert set(open_lines(corpus, "dev", ["letters"]).texts) and not open_lines(corpus, "train", ["letters"]).texts
    stamp = (corpus / "letters" / "crops.u8").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert "up to date" in capsys.readouterr().err
    assert (corpus / "letters" / "crops.u8").stat().st_mtime_ns == stamp
    write_page(gt / "letters", "good9", TEXTS[:1])  # a changed input: that source compiles again
    assert main(args) == 0
    assert len(open_lines(corpus, sources=["letters"])) == 19


def test_exit_codes(gt, tmp_path):
    only_broken = tmp_path / "broken"
    only_broken.mkdir()
    shutil.copy(gt / "broken.xml", only_broken)
    assert main(["data", "compile", str(only_broken), "-o", str(tmp_path / "c1"), "--quiet"]) == 1
    assert main(["data", "compile", str(tmp_path / "nowhere"), "-o", str(tmp_path / "c2")]) == 2
    assert main(["data", "compile", str(gt), "-o", str(tmp_path / "c3"), "--dev-share", "2"]) == 2
    assert main(["data", "stats", str(tmp_path / "nowhere")]) == 1


def test_crop_folders_compile_and_stats(tmp_path, capsys):
    from tests.test_recognition_train import write_crops

    folder = write_crops(tmp_path / "crops", TEXTS)
    with open(folder / "labels.tsv", "a") as f:
        f.write("missing.png\tno such image\nno tab here\n")
    corpus = tmp_path / "corpus"
    assert main(["data", "compile", f"{folder}:train", "-o", str(corpus), "--quiet"]) == 0
    lines = open_lines(corpus)
    height = load_model_file(None, "rec")["preprocess"]["height"]  # the shipped recogniser's, by default
    assert lines.texts == TEXTS and all(lines.image(i).shape[0] == height for i in range(len(lines)))
    capsys.readouterr()
    assert main(["data", "stats", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "unreadable image" in out and "malformed row" in out and "crops" in out


def test_normalisation_rules():
    assert normalize_text("  M^r  Dupont\u00a0l’a ſu ¬") == "Mr Dupont l'a su -"
    assert normalize_text("Mʳ de|puis 22|50 >barré< Ver=") == "Mr depuis 22|50 barré Ver-"
    assert normalize_text("Ma&amp;Co Mӓdchen e\u0301te\u0301") == "Ma&Co Mädchen été"
    assert unusable("illegible [?] word") and unusable("x XXX y") and unusable("a><b")
    assert unusable("Chapter XXXI") is None and unusable("Mr Dupont") is None


def test_import_htr_stays_light():
    code = "import sys, htr.data.normalize, htr.data.corpus; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_detector_training_takes_corpus_pages_by_weight(gt, tmp_path):
    import argparse

    from htr.train import det

    corpus = tmp_path / "corpus"
    compile_corpus([Source("letters", [(gt / "letters", "train")])], corpus, 40, quiet=True)
    args = det.configure_parser(argparse.ArgumentParser()).parse_args(
        ["--out", str(tmp_path / "run"), "--data", f"{corpus}:2", "--data", f"other={gt / 'letters'}:train",
         "--val-pages", "2"])
    files, weights, val = det.split_train(det.recipe_of(det.DetRecipe, args), tmp_path / "run")
    assert {name: len(pages) for name, pages in val.items()} == {"letters": 2, "other": 2}
    assert len(files) == 8 and weights == [2.0] * 4 + [1.0] * 4
    assert all(image.exists() and xml.exists() and image.stem == xml.stem for image, xml in files)
    assert not set(files) & {p for pages in val.values() for p in pages}


def test_detector_run_saves_its_recipe_and_resumes_with_it(gt, tmp_path):
    import csv

    import torch

    from htr.detection.detector import Detector

    from htr.train import det

    run = tmp_path / "run"
    (tmp_path / "r.toml").write_text('arch = "slim"\ncrop = 128\nlong_side = 256\nbatch = 2\nworkers = 0\n')
    first = ["train", "det", "--out", str(run), "--config", str(tmp_path / "r.toml"), "--data",
             f"{gt / 'letters'}:train", "--val-pages", "1", "--val-synth", "0", "--synth-share", "0",
             "--eval-every", "4", "--steps", "4", "--warmup", "1", "--lr", "3e-3", "--no-tune"]
    assert main(first) == 0
    saved = det.read_recipe(run / "recipe.toml", det.DetRecipe)
    assert (saved["arch"], saved["crop"], saved["steps"], saved["tune"]) == ("slim", 128, 4, False)
    assert main(["train", "det", "--out", str(run), "--resume", "--steps", "12"]) == 0
    state = torch.load(run / "last.pt", weights_only=True)
    assert state["step"] == 12 and state["recipe"]["crop"] == 128 and state["recipe"]["steps"] == 12
    with open(run / "log.csv") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["loss"]) for r in rows]
    assert [int(r["step"]) for r in rows] == list(range(1, 13))  # the resumed run continues the log
    assert np.mean(losses[-4:]) < np.mean(losses[:4]), losses  # it learns
    detector = Detector(run / "det.pt")  # the weights it kept load
    assert detector.pre["long_side"] == 256


def test_eval_lines_reads_a_corpus_per_source(tmp_path, capsys):
    from tests.test_recognition_train import write_crops

    a, b = write_crops(tmp_path / "a", TEXTS), write_crops(tmp_path / "b", TEXTS[:2])
    corpus = tmp_path / "corpus"
    assert main(["data", "compile", f"{a}:dev", f"{b}:dev", "-o", str(corpus), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", "lines", str(corpus), "--beam", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: v["lines"] for k, v in report["folders"].items()} == {f"{corpus}/a": 4, f"{corpus}/b": 2}
    assert report["total"]["lines"] == 6 and 0 <= report["total"]["cer"] <= 1.5
    assert main(["eval", "lines", str(corpus), "--split", "train", "--json"]) == 0  # no train lines: no rows
    assert json.loads(capsys.readouterr().out)["folders"] == {}


def test_page_files_find_the_image_the_ground_truth_names(tmp_path):
    """One image-beside-XML finder for `eval detect`, `train det`, `eval pages` and `data compile`: the image
    the XML names, else one of its stem (``.page.xml`` too), beside it or above a Transkribus ``page/`` folder."""
    from htr.data.pages import page_files

    def gt(path: Path, source: str = "") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(write_page_xml(Page(width=20, height=10, source=source)), encoding="utf-8")
        return path

    cv2.imwrite(str(tmp_path / "scan-01.png"), np.zeros((10, 20, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.TIF"), np.zeros((10, 20, 3), np.uint8))
    named, upper = gt(tmp_path / "a.xml", "scan-01.png"), gt(tmp_path / "b.xml")
    dotted = gt(tmp_path / "scan-01.page.xml")
    gt(tmp_path / "lost.xml")  # no image: left out
    (tmp_path / "mets.xml").write_text("<mets/>", encoding="utf-8")  # not ground truth: passed over
    assert page_files(tmp_path) == [(tmp_path / "scan-01.png", named), (tmp_path / "b.TIF", upper),
                                    (tmp_path / "scan-01.png", dotted)]
    below = gt(tmp_path / "page" / "b.xml")
    assert page_files(tmp_path / "page") == [(tmp_path / "b.TIF", below)]
