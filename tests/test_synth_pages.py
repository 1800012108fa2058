"""Synthetic pages: ground truth on the ink, no overlapping words, PAGE-XML that validates and reads back; the
lines `htr synth lines` writes read back by `htr recognize`."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from htr.paths import WEIGHTS_DIR
from htr.synth.layouts import LAYOUTS
from tests.test_synth import fonts_subset, max_overlap, polygon_ink  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def pages(fonts_subset):
    from htr.synth.pages import render_page

    out = []
    for i, layout in enumerate(sorted(LAYOUTS) * 2):
        degrade = i % 7 != 3  # a few clean pages too
        out.append(render_page(1000 + i, layout=layout, fonts=fonts_subset, return_ink=True, degrade=degrade))
    return out


def test_words_sit_on_ink_and_do_not_overlap(pages):
    for image, page, ink in pages:
        assert image.shape[:2] == (page.height, page.width) == ink.shape
        assert min(image.shape[:2]) >= 600 and len(page.lines) > 0
        mask = ink > 96
        for line in page.lines:
            assert line.text == " ".join(w.text for w in line.words)
            for word in line.words:
                assert polygon_ink(mask, word.polygon) > 0, (page.width, word.text)
            assert max_overlap([w.polygon for w in line.words]) <= 0.10, line.text


@pytest.mark.shared
def test_page_xml_validates_and_reads_back(pages):
    from htr.formats.pagexml import read_page_xml
    from htr.synth.pages import page_xml
    from tests.shared import validate

    for _, page, _ in pages:
        page.source = "000000.jpg"
        xml = page_xml(page)
        validate(xml, "page2019")
        back = read_page_xml(xml)
        assert back.text == page.text
        assert [ln.text for ln in back.lines] == [ln.text for ln in page.lines]
        assert [w.text for w in back.words()] == [w.text for w in page.words()]
        assert [b.kind for b in back.blocks] == [b.kind for b in page.blocks]


def test_write_pages_is_byte_identical(fonts_subset, tmp_path):
    from htr.synth.dataset import write_pages

    write_pages(3, tmp_path / "a", seed=11, workers=1, progress=False)
    write_pages(3, tmp_path / "b", seed=11, workers=2, progress=False)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"{i:06d}.{ext}" for i in range(3) for ext in ("jpg", "xml")]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_command_line(fonts_subset, tmp_path, capsys):
    from htr.cli import main

    assert main(["synth", "lines", "4", str(tmp_path / "l"), "--seed", "1", "--quiet", "--workers", "1"]) == 0
    assert main(["synth", "pages", "1", str(tmp_path / "p"), "--quiet", "--workers", "1"]) == 0
    assert (tmp_path / "l" / "lines.jsonl").read_text().count("\n") == 4
    assert (tmp_path / "p" / "000000.xml").exists()
    capsys.readouterr()
    assert main(["synth", "fonts", "caveat"]) == 0  # in the cache already: verified, not fetched again
    assert "handwriting: 1 fetched, 1 kept" in capsys.readouterr().out
    assert main(["synth", "bench", "--lines", "6", "--pages", "1", "--runs", "1", "--workers", "1"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.split()}
    assert rows["lines"][1] == "6" and float(rows["lines"][2]) > 0 and rows["pages"][1] == "1"


@pytest.mark.skipif(not (WEIGHTS_DIR / "rec.pt").exists(), reason="htr/weights/rec.pt is needed")
def test_recognize_reads_the_print_lines_synth_writes(fonts_subset, tmp_path, capsys):  # noqa: F811
    from htr.cli import main
    from htr.evaluate import TextScore, score_text

    folder = tmp_path / "lines"
    assert main(["synth", "lines", "12", str(folder), "--kind", "print", "--seed", "5", "--quiet", "--workers",
                 "1"]) == 0
    rows = [json.loads(line) for line in (folder / "lines.jsonl").read_text(encoding="utf-8").splitlines()]
    capsys.readouterr()
    assert main(["recognize", *(str(folder / r["image"]) for r in rows), "--json"]) == 0
    read = json.loads(capsys.readouterr().out)
    assert [Path(r["file"]).name for r in read] == [r["image"] for r in rows]
    total = sum((score_text(r["text"], truth["text"]) for r, truth in zip(read, rows)), TextScore())
    assert total.cer < 0.05, total  # the shipped weights: ~0.01 on synthetic print (model card)


def test_writing_scales_give_large_and_tiny_writing(fonts_subset):  # noqa: F811
    """The same page drawn with large, usual and tiny writing: line heights in that order, large writing at
    least twice the usual (the detector trains on all three)."""
    import numpy as np

    from htr.synth.pages import render_page

    heights = {}
    for writing in ("large", "normal", "tiny"):
        _, page = render_page(77, layout="letter", fonts=fonts_subset, degrade=False, writing=writing)
        heights[writing] = float(np.median([np.ptp(ln.polygon[:, 1]) for ln in page.lines]))
    assert heights["large"] >= 2 * heights["normal"] > 2 * heights["tiny"], heights
