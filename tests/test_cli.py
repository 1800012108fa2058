"""The `htr` command line, run as a user runs it: a separate process, its stdout, stderr and exit code."""
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from htr import __version__
from htr.formats import read_document, write_page_xml
from tests.shared import shared_path, validate

FIXTURES = Path(__file__).parent / "fixtures"


def htr(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "htr.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def levenshtein(a: str, b: str) -> int:
    """The textbook dynamic programme, independent of htr.evaluate's bit-parallel one."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_console_script_and_version():
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("htr") == "htr.cli:main"
    result = htr("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"htr {__version__}"


def test_help_lists_the_commands():
    result = htr("--help")
    assert result.returncode == 0
    for command in ("convert", "inspect", "eval"):
        assert command in result.stdout


@pytest.mark.shared
def test_convert_page_to_alto_and_back(tmp_path, page):
    source = tmp_path / "in.xml"
    source.write_text(write_page_xml(page), encoding="utf-8")
    result = htr("convert", source, tmp_path / "out.alto.xml")
    assert result.returncode == 0, result.stderr
    validate((tmp_path / "out.alto.xml").read_text(encoding="utf-8"), "alto4")
    assert htr("convert", tmp_path / "out.alto.xml", tmp_path / "back.xml", "--to", "page").returncode == 0
    back = read_document(tmp_path / "back.xml")
    assert [ln.text for ln in back.lines] == [ln.text for ln in page.lines]
    for fmt, name in (("hocr", "p.hocr"), ("text", "p.txt"), ("json", "p.json")):
        assert htr("convert", source, tmp_path / name).returncode == 0
        assert read_document(tmp_path / name).text.split() == page.text.split(), fmt
    stdout = htr("convert", source, "-", "--to", "text")
    assert stdout.returncode == 0 and stdout.stdout == page.text + "\n"


@pytest.mark.shared
def test_convert_a_folder(tmp_path, page):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name in ("a.xml", "sub/b.xml"):
        (tmp_path / "in" / name).write_text(write_page_xml(page), encoding="utf-8")
    (tmp_path / "in" / "broken.xml").write_text("<PcGts><Page", encoding="utf-8")
    result = htr("convert", tmp_path / "in", tmp_path / "out", "--to", "alto")
    assert result.returncode == 1  # one document failed: reported, the others still converted
    assert "broken.xml" in result.stderr and "converted 2 of 3" in result.stderr
    for name in ("out/a.alto.xml", "out/sub/b.alto.xml"):
        validate((tmp_path / name).read_text(encoding="utf-8"), "alto4")
    assert not list((tmp_path / "out").rglob("*.part"))


def test_convert_needs_a_format_for_plain_xml(tmp_path, page):
    source = tmp_path / "in.xml"
    source.write_text(write_page_xml(page), encoding="utf-8")
    result = htr("convert", source, tmp_path / "out.xml")
    assert result.returncode == 1 and "--to" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    text_as_jpeg = tmp_path / "notes.jpg"
    text_as_jpeg.write_text("these are not pixels\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), np.uint8)).save(good, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    malformed = tmp_path / "page.xml"
    malformed.write_text('<?xml version="1.0"?><PcGts><Page imageWidth="1"></PcGts>')
    return {"text named .jpg": text_as_jpeg, "zero-byte file": empty, "truncated JPEG": truncated,
            "missing path": tmp_path / "nowhere.jpg", "malformed XML": malformed}


@pytest.mark.parametrize("case", ["text named .jpg", "zero-byte file", "truncated JPEG", "missing path",
                                  "malformed XML"])
def test_bad_input_gives_one_clear_line(tmp_path, case):
    path = bad_inputs(tmp_path)[case]
    result = htr("inspect", path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("htr: error: ") and str(path) in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_inspect_reports_good_files(tmp_path, page):
    image = tmp_path / "scan.png"
    Image.new("RGB", (64, 48), "white").save(image)
    doc = tmp_path / "scan.xml"
    doc.write_text(write_page_xml(page), encoding="utf-8")
    result = htr("inspect", image, doc)
    assert result.returncode == 0, result.stderr
    assert f"{image}: image 64x48" in result.stdout
    assert f"{doc}: document 1000x1400, 2 blocks, 4 lines, 2 words" in result.stdout


def test_eval_text_of_tesseract_output_matches_an_independent_count():
    gt_path, pred_path = FIXTURES / "tesseract" / "page.xml", FIXTURES / "tesseract" / "page.txt"
    result = htr("eval", "text", pred_path, gt_path, "--json")
    assert result.returncode == 0, result.stderr
    total = json.loads(result.stdout)["total"]
    gt = " ".join(read_document(gt_path).text.split())
    pred = " ".join(pred_path.read_text(encoding="utf-8").split())
    assert total["chars"] == len(gt)
    assert total["cer"] == pytest.approx(levenshtein(pred, gt) / len(gt))
    assert 0.02 < total["cer"] < 0.5  # Tesseract made some mistakes on the noisy page, and read most of it


def test_eval_text_folders_match_by_name(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir(), pred_dir.mkdir()
    (gt_dir / "a.txt").write_text("the quick brown fox\n")
    (gt_dir / "b.txt").write_text("jumps over\n")
    (pred_dir / "a.hocr.txt").write_text("not matched\n")
    (pred_dir / "a.txt").write_text("the quick brown box\n")
    result = htr("eval", "text", pred_dir, gt_dir)
    assert result.returncode == 0
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert float(rows["a"][1]) == pytest.approx(1 / 19, abs=1e-4)
    assert float(rows["b"][1]) == 1.0 and "no prediction" in result.stdout
    assert "1 ground-truth pages have no prediction" in result.stderr


@pytest.mark.shared
def test_eval_text_on_real_ground_truth_counts_the_characters_dropped(tmp_path):
    folder = shared_path("data", "hooker", "dev")
    dropped, chars = 0, 0
    for xml in sorted(folder.glob("*.xml")):  # every 7th letter of words of two or more dropped: k edits exactly
        words = read_document(xml).text.split()
        kept = []
        for word in words:
            cut = [c for i, c in enumerate(word) if len(word) < 2 or (chars + i) % 7 or i == 0]
            dropped += len(word) - len(cut)
            chars += len(word)
            kept.append("".join(cut))
        (tmp_path / f"{xml.stem}.txt").write_text(" ".join(kept) + "\n", encoding="utf-8")
    report = json.loads(htr("eval", "text", tmp_path, folder, "--json").stdout)
    total = report["total"]
    assert total["pages"] == len(list(folder.glob("*.xml"))) and total["chars"] > 10000
    assert 0.05 < total["cer"] == pytest.approx(dropped / total["chars"], abs=1e-4)


@pytest.mark.shared
@pytest.mark.parametrize("folder, there, back", [("hooker/dev", "alto", "page"), ("testaments/dev", "page", "alto")])
def test_convert_round_trips_real_folders(tmp_path, folder, there, back):
    source = shared_path("data", folder)
    assert htr("convert", source, tmp_path / there, "--to", there).returncode == 0
    assert htr("convert", tmp_path / there, tmp_path / back, "--to", back).returncode == 0
    schemas = {"page": "page2019", "alto": "alto4"}
    originals = sorted(source.glob("*.xml"))
    for original_path in originals:
        original = read_document(original_path)
        for fmt in (there, back):
            path = tmp_path / fmt / f"{original_path.stem}.{fmt}.xml"
            validate(path.read_text(encoding="utf-8"), schemas[fmt])
            copy = read_document(path)
            assert [ln.text for ln in copy.lines] == [ln.text for ln in original.lines], path
            for a, b in zip(original.lines, copy.lines):
                np.testing.assert_array_equal(a.polygon, b.polygon)


def test_lang_names_a_word_list_the_model_holds_or_exits_2(tmp_path):
    from htr.paths import DEFAULT_LM
    from htr.recognition.lm import CharLM

    crop = np.full((40, 200), 235, np.uint8)
    crop[15:25, 20:180:12] = 30
    Image.fromarray(crop).save(tmp_path / "line.png")
    known = sorted(CharLM.load(DEFAULT_LM).lexicons)
    bad = htr("recognize", tmp_path / "line.png", "--lang", "xx")
    assert bad.returncode == 2 and "--lang: no word list for xx" in bad.stderr and bad.stdout == ""
    for lang in (["none"] + [",".join(known)] if known else ["none"]):
        result = htr("recognize", tmp_path / "line.png", "--lang", lang, "--json")
        assert result.returncode == 0, result.stderr


def test_train_commands_take_the_trainers_own_options(capsys):
    from htr.cli import main

    with pytest.raises(SystemExit) as done:
        main(["train", "lm", "--help"])
    assert done.value.code == 0 and "--lexicons" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["train", "det", "--bogus"])
    assert done.value.code == 2 and "htr train det: error: unrecognized arguments: --bogus" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ a new user's trips

EXAMPLE = Path(__file__).parent.parent / "examples" / "letter.jpg"


def one_error_line(result, code: int, *parts: str) -> str:
    """The single stderr line of a failed command, checked: its exit code, no traceback, the parts it names."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code and len(lines) == 1 and lines[0].startswith("htr: error: "), result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


def test_an_overlay_htr_cannot_write_is_refused_before_reading(tmp_path):
    for name, says in (("page.xyz", "htr cannot write an image of this type"), ("nowhere/page.png", "no such folder")):
        result = htr("page", EXAMPLE, "--overlay", tmp_path / name, "-o", tmp_path / "out.txt")
        one_error_line(result, 2, f"--overlay {tmp_path / name}", says)
        assert not (tmp_path / "out.txt").exists()  # refused before the page was read


def test_lines_takes_a_segmentation_not_plain_text(tmp_path):
    (tmp_path / "seg.txt").write_text("Dear Sir,\nthis is not a segmentation\n")
    result = htr("page", EXAMPLE, "--lines", tmp_path / "seg.txt")
    one_error_line(result, 1, f"--lines {tmp_path / 'seg.txt'}: plain text, not PAGE-XML 2019, ALTO v4, hOCR or htr JSON")
    assert result.stdout == ""


def test_page_dash_reads_stdin(tmp_path):
    """`htr page - < scan` is tests/test_examples.py's; here what goes wrong on stdin is one line."""
    for data, says in ((b"", "<stdin>: empty data (0 bytes)"), (b"not an image", "<stdin>: not an image file")):
        result = subprocess.run([sys.executable, "-m", "htr.cli", "page", "-"], input=data, capture_output=True,
                                timeout=120)
        one_error_line(subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(),
                                                   result.stderr.decode()), 1, says)


def test_txt_names_the_text_format():
    from htr.batch.runner import parse_formats
    from htr.cli import build_parser

    assert build_parser().parse_args(["page", "x.jpg", "--out", "txt"]).out == "text"
    assert parse_formats("txt,page") == ("text", "page")
    result = htr("batch", "in", "out", "--formats", "txt,docx")
    assert result.returncode == 2 and "unknown format docx" in result.stderr


def test_counts_agree_with_their_nouns(tmp_path):
    from htr.errors import plural

    assert (plural(1, "page"), plural(2, "page"), plural(0, "line")) == ("1 page", "2 pages", "0 lines")
    Image.new("RGB", (64, 48), "white").save(tmp_path / "blank.png")
    result = htr("batch", tmp_path, tmp_path / "out", "--formats", "txt")
    assert result.returncode == 0, result.stderr
    assert "1 page found in 1 file;" in result.stderr and (tmp_path / "out" / "blank.txt").exists()


def test_the_pixel_limit_says_how_to_raise_it(tmp_path):
    Image.new("L", (300, 200), "white").save(tmp_path / "big.png")
    result = htr("inspect", tmp_path / "big.png", "--max-pixels", 50000)
    one_error_line(result, 1, "300x200 = 60000 pixels, over the limit of 50000",
                   "raise the limit with --max-pixels N or $HTR_MAX_PIXELS")
    assert htr("inspect", tmp_path / "big.png", "--max-pixels", 60000).returncode == 0
    page = htr("page", tmp_path / "big.png", "--max-pixels", 50000)
    one_error_line(page, 1, "over the limit of 50000", "--max-pixels")


def test_train_help_shows_its_paragraphs_without_markup():
    result = subprocess.run([sys.executable, "-m", "htr.cli", "train", "rec", "--help"], capture_output=True,
                            text=True, timeout=120, env={**__import__("os").environ, "COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    assert "``" not in result.stdout and "::" not in result.stdout
    assert "\n    htr train rec --init htr/weights/rec.pt --data my_pages/ --minutes 15 --out runs/mine\n" in result.stdout
    assert "\n\nWith `--init` the defaults" in result.stdout  # paragraphs kept apart
