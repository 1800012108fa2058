"""Never an empty page unnoticed: writing much larger than the detector's training pages, missed at the usual
input size, is found on a retry at another; a page whose line map holds writing but yields no line after the
retries says so (Page.warnings, `htr page` on stderr, the JSON, `htr batch`'s manifest); blank paper is
neither detected nor flagged."""
import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from htr.detection.detector import TEXT_EVIDENCE, Detector, load_weights, save_weights
from htr.formats import read_document
from htr.imageio import load_image
from htr.paths import REPO, default_weights

pytestmark = pytest.mark.skipif(not (default_weights("det").exists() and default_weights("rec").exists()),
                                reason="htr/weights/det.pt and rec.pt are needed")
LETTER = REPO / "examples" / "letter.jpg"


@pytest.fixture(scope="module")
def detector() -> Detector:
    return Detector()


def enlarged_letter():
    """A 30% x 30% piece of the example letter blown up to the letter's width: writing 3.3 times as large."""
    image = load_image(LETTER)
    h, w = image.shape[:2]
    piece = image[int(h * 0.3):int(h * 0.6), int(w * 0.1):int(w * 0.4)]
    return cv2.resize(piece, (w, round(w * piece.shape[0] / piece.shape[1])), interpolation=cv2.INTER_CUBIC)


def test_large_writing_is_found(detector):
    """Writing 3.3 times the letter's size: the first detector missed it at the usual input size and found it
    on a retry at another; the second (trained with large writing) finds it at once."""
    from htr.pipeline import Reader

    big = enlarged_letter()
    found, warning = detector.detect_checked(big, ("line",))
    assert len(found) >= 3 and warning is None
    page = Reader().read(big)
    truth = set(read_document(REPO / "examples" / "letter.gt.xml").text.lower().split())
    words = [w for w in page.text.lower().split() if len(w) >= 4]
    # a word read counts when it is one of the letter's or a piece of one (the crop cuts words at its edges)
    read = sum(any(w in t for t in truth) for w in words)
    assert len(words) >= 4 and read >= len(words) / 2, page.text  # read, not noise
    assert page.warnings == []


def test_a_page_with_writing_but_no_line_is_flagged_everywhere(tmp_path, capsys):
    """Post-processing that keeps no region (none as large as min_size), on the real letter: the retries at
    other sizes and with lowered thresholds find none either."""
    from htr.cli import main
    from htr.pipeline import Reader

    model, pre, post, meta = load_weights(None)
    strict = tmp_path / "strict-det.pt"
    save_weights(strict, model, pre, {kind: replace(cfg, min_size=1e6) for kind, cfg in post.items()}, meta)
    page = Reader(det_weights=strict).read(load_image(LETTER))
    assert page.lines == [] and len(page.warnings) == 1
    assert page.warnings[0].startswith("no text line found, though ") and "check it" in page.warnings[0]

    assert main(["page", str(LETTER), "--det-weights", str(strict), "--out", "json", "-o",
                 str(tmp_path / "letter.json")]) == 0
    assert f"htr: warning: {LETTER}: no text line found" in capsys.readouterr().err
    assert json.loads((tmp_path / "letter.json").read_text())["warnings"] == page.warnings
    assert read_document(tmp_path / "letter.json").warnings == page.warnings  # read back

    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "letter.jpg").write_bytes(LETTER.read_bytes())
    assert main(["batch", str(scans), str(tmp_path / "out"), "--det-weights", str(strict)]) == 0
    err = capsys.readouterr().err
    assert "htr: warning: letter.jpg: no text line found" in err and "1 with warnings" in err, err
    record = json.loads((tmp_path / "out" / "manifest.jsonl").read_text())
    assert record["lines"] == 0 and record["warnings"] == page.warnings


def test_blank_paper_yields_no_line_and_no_warning(detector):
    from htr.synth.pages import render_blank_page

    for seed in range(900, 908):  # stains, filing holes, ruled and squared paper, scanner borders
        image, _ = render_blank_page(seed)
        found, warning = detector.detect_checked(image, ("line",))
        assert found == [] and warning is None, seed


def test_filing_holes_are_not_lines(detector):
    """Blank pages with filing holes give no line; a line region over a hole (as the line map of the first
    detector took them) is dropped as solid ink with the word centred in it, on white and on brown paper; the
    letter's lines, and the lines of brown paper scanned beside white, are all kept."""
    from htr.detection.postprocess import Detection, drop_solid, maps_to_detections
    from htr.document import box_polygon
    from htr.synth.augment import punch_holes
    from htr.synth.pages import render_blank_page

    for seed in (3, 11):
        image, _ = render_blank_page(seed)
        punch_holes(np.random.default_rng(seed), image)
        assert detector.detect(image, ("line",)) == [], seed
    for paper in (245, 150):
        gray = np.full((1400, 1000), paper, np.uint8)
        gray[:, 900:] = 250  # the scanner's white beside the sheet
        cv2.circle(gray, (80, 700), 22, 40, -1)
        over_hole = [Detection(box_polygon(62, 682, 98, 718), 0.9, kind) for kind in ("line", "word")]
        writing = Detection(box_polygon(200, 300, 700, 340), 0.9, "line")
        cv2.putText(gray, "Writing", (210, 334), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.4, 30, 2)
        assert drop_solid(over_hole + [writing], gray) == [writing], paper
    letter = load_image(LETTER)
    prob, scale = detector.maps(letter)
    raw = maps_to_detections(prob, scale, letter.shape[1::-1], detector.model.cfg.kinds, detector.post)
    assert len(drop_solid(raw, cv2.cvtColor(letter, cv2.COLOR_RGB2GRAY))) == len(raw)
