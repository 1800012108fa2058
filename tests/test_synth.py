"""Synthetic lines: fonts (fetch, integrity, charset check), text, geometry and determinism."""
from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest
from shapely.geometry import Polygon

from htr.errors import ResourceError
from htr.synth import fonts as synth_fonts
from htr.synth.charset import CHARSET, REQUIRED, fit_text

# A few fonts fetched by the tests themselves (into the font cache) when missing.
TEST_FONTS = ["caveat", "homemade-apple", "dancing-script", "cedarville-cursive", "playwrite-us-trad",
              "edu-sa-beginner", "special-elite", "courier-prime", "patrick-hand-sc"]


@pytest.fixture(scope="session")
def fonts_subset():
    wanted = {f"@fontsource/{n}" for n in TEST_FONTS}
    index = synth_fonts.read_index()
    if not all(index.get(p, {}).get("checks") == synth_fonts.CHECKS for p in wanted):
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so the test fonts cannot be fetched")
        try:
            synth_fonts.fetch_fonts(TEST_FONTS)  # only those missing from the cache
        except ResourceError as err:  # offline: the npm registry cannot be reached
            pytest.skip(f"the test fonts cannot be fetched: {err}")
    fonts = [f for f in synth_fonts.require_fonts() if f.package in wanted]
    assert len(fonts) == len(wanted) - 1  # all but patrick-hand-sc
    assert {f.kind for f in fonts} == {"handwriting", "print"}
    return fonts


def ink_mask(image: np.ndarray) -> np.ndarray:
    """Pixels clearly darker than the paper (the image's median): over a third of the way to the darkest."""
    lum = image.astype(np.float32).mean(2)
    paper, darkest = np.median(lum), np.percentile(lum, 0.2)
    return lum < paper - max(15.0, 0.35 * (paper - darkest))


def polygon_ink(mask: np.ndarray, polygon: np.ndarray) -> int:
    import cv2

    region = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(region, [np.round(polygon).astype(np.int32)], 1)
    return int((mask & region.astype(bool)).sum())


def max_overlap(polygons) -> float:
    """The largest intersection of two polygons over the smaller one's area."""
    shapes = [Polygon(p).buffer(0) for p in polygons]
    worst = 0.0
    for a, b in itertools.combinations(shapes, 2):
        if a.area > 0 and b.area > 0:
            worst = max(worst, a.intersection(b).area / min(a.area, b.area))
    return worst


def test_manifest_is_pinned():
    manifest = synth_fonts.load_manifest()
    kinds = [f["kind"] for f in manifest]
    assert kinds.count("handwriting") >= 120 and kinds.count("print") >= 25
    for f in manifest:
        assert f["package"].startswith("@fontsource/") and f["version"]
        assert f["integrity"].startswith("sha512-")


def test_fit_text():
    assert fit_text("Café  £5 — déjà…", "Cafe5 dej.-") == "Cafe 5 - deja..."
    assert fit_text("naïve", CHARSET) == "naïve"


def test_charset_check_drops_font_lacking_glyphs(fonts_subset):
    edu = next(f for f in fonts_subset if f.package == "@fontsource/edu-sa-beginner")
    covered = synth_fonts.covered_chars(edu.path)
    assert set(REQUIRED) <= set(covered) and "é" not in covered  # kept, restricted to what it draws
    assert synth_fonts.drop_reason(covered) is None
    reason = synth_fonts.drop_reason(covered, REQUIRED + "é")
    assert reason and "é" in reason
    from htr.synth.lines import render_line
    sample = render_line(0, text="Un café", fonts=[edu])
    assert sample.text == "Un cafe" and sample.font == edu.family


def test_small_caps_font_is_dropped(fonts_subset):
    record = synth_fonts.read_index()["@fontsource/patrick-hand-sc"]
    assert record["dropped"] and "capitals" in record["dropped"]
    assert not synth_fonts.caseless(fonts_subset[0].path)


def test_integrity_mismatch_is_dropped(fonts_subset, tmp_path):
    entry = next(f for f in synth_fonts.load_manifest() if f["package"] == "@fontsource/caveat")
    try:
        tarballs = synth_fonts._npm_pack([f"{entry['package']}@{entry['version']}"], tmp_path)
    except ResourceError as err:  # no npm, or offline
        pytest.skip(f"{entry['package']} cannot be fetched: {err}")
    tarball = tarballs[entry["package"]]
    assert synth_fonts.integrity_of(tarball) == entry["integrity"]
    bad = {**entry, "integrity": "sha512-" + "A" * 86 + "=="}
    assert "integrity" in synth_fonts._install(bad, tarball, tmp_path)["dropped"]


def test_lines_geometry(fonts_subset):
    from htr.synth.lines import render_line

    for seed in range(40):
        s = render_line(seed, fonts=fonts_subset)
        h, w = s.image.shape[:2]
        assert s.image.dtype == np.uint8 and s.image.shape[2] == 3
        assert s.text and s.text == " ".join(t for t, _ in s.words)
        assert s.char_spans.shape == (len(s.text), 2)
        assert np.all(np.diff(s.char_spans[:, 0]) >= -1e-3)
        assert np.all(s.char_spans[:, 1] >= s.char_spans[:, 0])
        mask = ink_mask(s.image)
        for text, poly in s.words:
            assert poly.min() >= 0 and poly[:, 0].max() <= w and poly[:, 1].max() <= h
            assert polygon_ink(mask, poly) > 0, (seed, text)
        assert max_overlap([p for _, p in s.words]) <= 0.10, seed
        assert h < 200 and s.kind in ("handwriting", "print")


def test_line_is_deterministic(fonts_subset):
    from htr.synth.lines import render_line

    a, b = render_line(7, fonts=fonts_subset), render_line(7, fonts=fonts_subset)
    assert np.array_equal(a.image, b.image) and a.to_json() == b.to_json()
    assert not np.array_equal(a.image.shape, render_line(8, fonts=fonts_subset).image.shape) or \
        not np.array_equal(a.image, render_line(8, fonts=fonts_subset).image)


def test_letter_spacing_widens_the_line(fonts_subset):
    from htr.synth.lines import render_line

    tight, spaced = (render_line(3, text="LAUMONIER", fonts=fonts_subset, tracking=t) for t in (0.0, 0.8))
    assert tight.text == spaced.text == "LAUMONIER"
    assert spaced.image.shape[1] > tight.image.shape[1] + 4 * tight.image.shape[0] * 0.3


def test_write_lines_is_byte_identical(fonts_subset, tmp_path):
    from htr.synth.dataset import write_lines

    write_lines(24, tmp_path / "a", seed=5, workers=1, progress=False)
    write_lines(24, tmp_path / "b", seed=5, workers=2, progress=False)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 25
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    records = [json.loads(line) for line in (tmp_path / "a" / "lines.jsonl").read_text().splitlines()]
    assert [r["image"] for r in records] == [f"{i:06d}.png" for i in range(24)]
    assert all(len(r["char_spans"]) == len(r["text"]) for r in records)


def test_text_corpus():
    from htr.synth import text

    rng = np.random.default_rng(0)
    lines = [text.line_text(rng, 50) for _ in range(300)]
    assert all(0 < len(t) <= 50 or " " not in t for t in lines)
    joined = "".join(lines)
    assert set(joined) <= set(CHARSET)
    assert any(c.isdigit() for c in joined) and any(c in "àâäçéèêëîïôöùûüñáíóúß" for c in joined)


def test_dates_are_reproducible_and_historical():
    """Dates come from the seed alone (Faker's date_object() moves with today's date)."""
    import re

    from htr.synth import text

    def dates(seed):
        rng = np.random.default_rng(seed)
        return [text.date(rng, lang) for lang in text.LANGS for _ in range(40)]

    first = dates(5)
    assert first == dates(5) and first != dates(6)
    years = [int(y) for d in first for y in re.findall(r"\b(1[89]\d\d|20[0-2]\d)\b", d)]
    assert len(years) > 60 and min(years) < 1900


def test_typewriter_wear_moves_letters_and_changes_ink_but_keeps_the_line():
    from htr.synth.lines import typewriter

    alpha = np.zeros((40, 300), np.uint8)
    cv2 = pytest.importorskip("cv2")
    cv2.putText(alpha, "Ref. No. 2231", (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 255, 2)
    worn = [typewriter(np.random.default_rng(seed), alpha, 28) for seed in range(12)]
    assert all(w.shape == alpha.shape and w.dtype == np.uint8 for w in worn)
    changed = [np.abs(w.astype(int) - alpha).mean() for w in worn]
    assert sum(c > 1 for c in changed) >= 9  # most draws visibly wear the line
    ink = alpha.sum()
    assert all(0.2 * ink < w.sum() < 3.0 * ink for w in worn)  # faded or spread, never erased or a blot
    rows = lambda a: np.flatnonzero(a.sum(1))  # noqa: E731
    assert any(rows(w)[0] != rows(alpha)[0] or rows(w)[-1] != rows(alpha)[-1] for w in worn)  # letters moved


def test_typed_faces_are_drawn_for_print(fonts_subset):
    from htr.synth.lines import TYPEWRITER_FACES, TYPED_P, pick_font

    rng = np.random.default_rng(0)
    typed = np.mean([pick_font(rng, "print", fonts_subset).family in TYPEWRITER_FACES for _ in range(400)])
    assert typed >= TYPED_P  # at least TYPED_P, plus their share of the rest


def test_form_field_lines_put_a_printed_label_before_a_handwritten_entry(fonts_subset, monkeypatch):
    import htr.synth.lines as lines
    from htr.train.data import FIELD_LABELS, form_field_line

    monkeypatch.setattr(lines, "require_fonts", lambda kind=None: fonts_subset)
    for seed in range(6):
        img, text = form_field_line(np.random.default_rng(seed), 40)
        assert img.shape[0] == 40 and img.dtype == np.uint8 and img.shape[1] > 60
        label = next(lab for lab in sorted(FIELD_LABELS, key=len, reverse=True) if text.startswith(lab + " "))
        assert len(text) > len(label) + 1
