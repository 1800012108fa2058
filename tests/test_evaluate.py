import random
import time

import numpy as np
import pytest

from htr.document import box_polygon
from htr.evaluate import (
    DetectionScore,
    TextScore,
    cer,
    edit_distance,
    match_polygons,
    normalize_text,
    polygon_iou,
    score_text,
    wer,
)


def reference_distance(a, b) -> int:
    """Plain O(n·m) Wagner-Fischer dynamic programme."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


# --- edit distance -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("kitten", "sitting", 3),
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("abc", "abc", 0),
        ("flaw", "lawn", 2),
        ("ab", "ba", 2),
        ("Straße", "Strasse", 2),
        (["the", "cat", "sat"], ["the", "hat", "sat", "down"], 2),
        ([], ["a"], 1),
    ],
)
def test_edit_distance_known_cases(a, b, expected):
    assert edit_distance(a, b) == expected
    assert edit_distance(b, a) == expected


def test_edit_distance_matches_reference_on_random_strings():
    rng = random.Random(1234)
    alphabets = ["ab", "abc", "acgt", "abcdefghijklmnopqrstuvwxyz ", "äöüßéèàçñ€—“”«» "]
    lengths = [0, 1, 2, 63, 64, 65, 127, 128, 129]
    for trial in range(300):
        alphabet = rng.choice(alphabets)
        la = rng.choice(lengths) if trial % 3 == 0 else rng.randint(0, 300)
        lb = rng.choice(lengths) if trial % 5 == 0 else rng.randint(0, 300)
        a = "".join(rng.choice(alphabet) for _ in range(la))
        if trial % 4 == 0:  # a mutated copy: small distances
            b = list(a)
            for _ in range(rng.randint(0, 10)):
                op, pos = rng.randrange(3), rng.randint(0, len(b))
                if op == 0:
                    b.insert(pos, rng.choice(alphabet))
                elif b and op == 1:
                    del b[min(pos, len(b) - 1)]
                elif b:
                    b[min(pos, len(b) - 1)] = rng.choice(alphabet)
            b = "".join(b)
        else:
            b = "".join(rng.choice(alphabet) for _ in range(lb))
        assert edit_distance(a, b) == reference_distance(a, b), (a, b)


def test_edit_distance_long_strings_match_reference():
    rng = random.Random(7)
    a = "".join(rng.choice("abcde ") for _ in range(1100))
    b = "".join(rng.choice("abcde ") for _ in range(1030))
    assert edit_distance(a, b) == reference_distance(a, b)
    assert edit_distance(a, a[:500] + "x" + a[501:] + "yz") == 3


def test_edit_distance_on_word_lists():
    rng = random.Random(99)
    vocabulary = ["the", "of", "and", "Tag", "tag", "1850", "Kirche", "ſeyn", "—"]
    for _ in range(60):
        a = [rng.choice(vocabulary) for _ in range(rng.randint(0, 120))]
        b = [rng.choice(vocabulary) for _ in range(rng.randint(0, 120))]
        assert edit_distance(a, b) == reference_distance(a, b)
        assert edit_distance(tuple(a), b) == reference_distance(a, b)


def test_edit_distance_is_fast_on_pages():
    rng = random.Random(3)
    a = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz  \n") for _ in range(5000))
    b = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz  \n") for _ in range(5000))
    start = time.perf_counter()
    distance = edit_distance(a, b)
    elapsed = time.perf_counter() - start
    assert 0 < distance <= 5000
    assert elapsed < 0.5, f"edit_distance on 5,000 characters took {elapsed:.2f} s"


# --- text normalisation and scores -------------------------------------------------------------------


def test_normalize_text():
    decomposed = "Cafe\u0301"
    assert normalize_text(decomposed) == "Café" and len(normalize_text(decomposed)) == 4
    assert normalize_text(decomposed, whitespace=False) == "Café"
    assert normalize_text("  a \t b\n\nc\u00a0 d  ") == "a b c d"
    assert normalize_text("  a \n b ", whitespace=False) == "  a \n b "
    assert normalize_text("Straße ÄB", case=True) == "strasse äb"
    assert normalize_text("„Hello“, she said — “don't!”", punctuation=True) == "Hello she said dont"
    assert normalize_text("a-b", punctuation=True, whitespace=False) == "ab"
    assert normalize_text("1 + 2 = 3 $", punctuation=True) == "1 + 2 = 3 $"  # symbols are not punctuation


def test_identical_text_scores_perfectly():
    text = "Anno 1850 den 3ten May\nist gestorben"
    score = score_text(text, text)
    assert score.cer == 0.0 and score.wer == 0.0
    assert score.bow_precision == score.bow_recall == score.bow_f1 == 1.0
    assert cer(text, "  Anno 1850  den 3ten May ist\ngestorben ") == 0.0  # whitespace is always normalised


def test_cer_and_wer():
    assert cer("kitten", "sitting") == pytest.approx(3 / 7)
    assert wer("the cat sat", "the hat sat") == pytest.approx(1 / 3)
    assert cer("Hello, World", "hello world") == pytest.approx(3 / 11)  # H, the comma, W
    assert cer("Hello, World", "hello world", case=True) == pytest.approx(1 / 11)
    assert cer("Hello, World", "hello world", case=True, punctuation=True) == 0.0
    assert wer("Hello, World", "hello world", case=True, punctuation=True) == 0.0
    assert cer("Cafe\u0301", "Café") == 0.0  # NFC


def test_empty_ground_truth_convention():
    assert cer("", "") == 0.0 and wer("", "") == 0.0
    assert cer("abc", "") == 1.0 and wer("abc", "") == 1.0
    assert cer("", "abc") == 1.0 and wer("", "abc") == 1.0
    assert cer("abcdefg", "abc") == pytest.approx(4 / 3)  # insertions can take a rate above 1
    empty = score_text("", "")
    assert empty.bow_precision == empty.bow_recall == empty.bow_f1 == 1.0
    nothing_predicted = score_text("", "a b")
    assert nothing_predicted.bow_precision == 1.0
    assert nothing_predicted.bow_recall == 0.0 and nothing_predicted.bow_f1 == 0.0


def test_bag_of_words_hand_checked():
    # pred words: the the cat sat on mat     gt words: the cat sat on the the mat today
    # multiset intersection: the×2, cat, sat, on, mat = 6
    score = score_text("the the cat sat on mat", "the cat sat on the the mat today")
    assert (score.bow_tp, score.bow_fp, score.bow_fn) == (6, 0, 2)
    assert score.bow_precision == 1.0
    assert score.bow_recall == pytest.approx(6 / 8)
    assert score.bow_f1 == pytest.approx(2 * 6 / (2 * 6 + 0 + 2))
    assert score.words == 8 and score.chars == len("the cat sat on the the mat today")

    score = score_text("a b c d", "a x c y z")
    assert (score.bow_tp, score.bow_fp, score.bow_fn) == (2, 2, 3)
    assert score.bow_precision == pytest.approx(0.5)
    assert score.bow_recall == pytest.approx(0.4)
    assert score.bow_f1 == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert score.word_errors == 3  # b->x, d->y, +z


def test_totals_are_micro_averages():
    pages = [("abc", "abd"), ("", "xyzxyzxyz"), ("hello world", "hello world")]
    scores = [score_text(p, g) for p, g in pages]
    total = sum(scores, TextScore())
    assert total == sum(scores)  # no start value needed
    assert total.chars == 3 + 9 + 11
    assert total.char_errors == 1 + 9 + 0
    assert total.cer == pytest.approx(10 / 23)
    assert total.cer != pytest.approx(sum(s.cer for s in scores) / 3)  # not a macro-average
    assert total.words == 1 + 1 + 2 and total.word_errors == 1 + 1 + 0
    assert total.wer == pytest.approx(2 / 4)
    assert sum([], TextScore()) == TextScore()
    with pytest.raises(TypeError):
        TextScore() + DetectionScore()


# --- polygons ----------------------------------------------------------------------------------------


def test_iou_of_rectangles():
    a = box_polygon(0, 0, 10, 10)
    b = box_polygon(5, 0, 15, 10)
    assert polygon_iou(a, b) == pytest.approx(50 / 150)
    assert polygon_iou(a, a) == pytest.approx(1.0)
    assert polygon_iou(a, box_polygon(20, 20, 30, 30)) == 0.0
    assert polygon_iou(a, box_polygon(10, 0, 20, 10)) == 0.0  # touching
    # a 10x10 square and a 4x20 bar across it: 40 in common, 100 + 80 - 40 in all
    assert polygon_iou(a, box_polygon(3, -5, 7, 15)) == pytest.approx(40 / 140)
    assert polygon_iou(a.tolist(), np.asarray(b, dtype=np.float64)) == pytest.approx(1 / 3)


def test_iou_of_self_intersecting_polygon():
    bow_tie = np.array([[0, 0], [2, 2], [2, 0], [0, 2]], dtype=np.float32)  # two triangles of area 1
    square = box_polygon(0, 0, 2, 2)
    assert polygon_iou(bow_tie, square) == pytest.approx(2 / 4)
    assert polygon_iou(bow_tie, bow_tie) == pytest.approx(1.0)
    left = box_polygon(0, 0, 1, 2)  # overlaps the left triangle only, area 1
    assert polygon_iou(bow_tie, left) == pytest.approx(1 / (2 + 2 - 1))


@pytest.mark.parametrize(
    "degenerate",
    [
        np.zeros((0, 2)),
        np.array([[0, 0], [5, 5]]),
        np.array([[0, 0], [5, 5], [10, 10]]),  # collinear: no area
        np.array([[1, 1], [1, 1], [1, 1], [1, 1]]),
        np.array([[0, 0], [5, 0], [np.nan, 5]]),
    ],
)
def test_iou_of_degenerate_polygons(degenerate):
    square = box_polygon(0, 0, 10, 10)
    assert polygon_iou(degenerate, square) == 0.0
    assert polygon_iou(square, degenerate) == 0.0
    assert polygon_iou(degenerate, degenerate) == 0.0


# --- matching ----------------------------------------------------------------------------------------


def test_matching_is_one_to_one():
    gt = [box_polygon(0, 0, 100, 20)]
    pred = [box_polygon(0, 0, 90, 20), box_polygon(0, 0, 100, 20)]
    score, matches = match_polygons(pred, gt)
    assert (score.tp, score.fp, score.fn) == (1, 1, 0)
    assert matches == [(1, 0, pytest.approx(1.0))]  # the better of the two
    assert score.precision == 0.5 and score.recall == 1.0
    assert score.f1 == pytest.approx(2 / 3)


def test_matching_greedy_by_iou():
    gt = [box_polygon(0, 0, 10, 10), box_polygon(8, 0, 18, 10)]
    pred = [box_polygon(1, 0, 11, 10), box_polygon(8, 0, 18, 10)]
    score, matches = match_polygons(pred, gt, iou_threshold=0.1)
    assert (score.tp, score.fp, score.fn) == (2, 0, 0)
    assert [(i, j) for i, j, _ in matches] == [(0, 0), (1, 1)]
    assert matches[0][2] == pytest.approx(90 / 110)


def test_matching_threshold():
    gt = [box_polygon(0, 0, 10, 20)]
    pred = [box_polygon(0, 0, 10, 10)]  # IoU exactly 0.5
    assert match_polygons(pred, gt, iou_threshold=0.5)[0].tp == 1
    score, matches = match_polygons(pred, gt, iou_threshold=0.51)
    assert (score.tp, score.fp, score.fn) == (0, 1, 1) and matches == []
    assert match_polygons([box_polygon(10, 0, 20, 20)], gt, iou_threshold=0.0)[0].tp == 0  # touching only


def test_matching_empty_and_degenerate():
    boxes = [box_polygon(0, 0, 10, 10), box_polygon(20, 0, 30, 10)]
    score, matches = match_polygons([], [])
    assert (score.tp, score.fp, score.fn) == (0, 0, 0) and matches == []
    assert score.precision == score.recall == score.f1 == 1.0

    score, _ = match_polygons([], boxes)
    assert (score.tp, score.fp, score.fn) == (0, 0, 2)
    assert score.precision == 1.0 and score.recall == 0.0 and score.f1 == 0.0

    score, _ = match_polygons(boxes, [])
    assert (score.tp, score.fp, score.fn) == (0, 2, 0)
    assert score.precision == 0.0 and score.recall == 1.0 and score.f1 == 0.0

    line = np.array([[0, 0], [10, 10]], dtype=np.float32)
    score, matches = match_polygons([line, boxes[0]], [boxes[0], line])
    assert (score.tp, score.fp, score.fn) == (1, 1, 1)
    assert matches == [(1, 0, pytest.approx(1.0))]


def test_detection_scores_add_up():
    a, b = DetectionScore(3, 1, 0), DetectionScore(1, 0, 4)
    assert a + b == DetectionScore(4, 1, 4) == sum([a, b])
    assert (a + b).precision == pytest.approx(4 / 5)
    assert (a + b).recall == pytest.approx(4 / 8)


def test_matching_a_full_page_is_fast():
    rng = np.random.default_rng(5)
    gt, pred = [], []
    for row in range(100):
        for col in range(100):
            x, y = col * 50.0, row * 30.0
            gt.append(box_polygon(x, y, x + 45, y + 25))
            dx, dy = rng.uniform(-4, 4, 2)
            pred.append(box_polygon(x + dx, y + dy, x + 45 + dx, y + 25 + dy))
    order = rng.permutation(len(pred))
    pred = [pred[k] for k in order]
    start = time.perf_counter()
    score, matches = match_polygons(pred, gt)
    elapsed = time.perf_counter() - start
    assert (score.tp, score.fp, score.fn) == (10_000, 0, 0)
    assert all(order[i] == j for i, j, _ in matches)
    assert elapsed < 5.0, f"matching 100x100 boxes took {elapsed:.2f} s"


def test_evaluation_runs_score_any_function_as_a_system():
    """The loops behind `htr eval` take systems as functions, so a model in training is scored like the rest."""
    from pathlib import Path
    from types import SimpleNamespace

    from htr.evaluation import score_lines, score_pages

    docs = [[SimpleNamespace(image=None, text="abc"), SimpleNamespace(image=None, text="de")]]
    scores, seconds, lines, documents = score_lines(docs, {"echo": lambda crops: ["abc", "dx"]})
    assert (scores["echo"].cer, lines, documents) == (pytest.approx(0.2), 2, 1) and seconds["echo"] >= 0
    score, seconds, order = score_pages([(Path("p.png"), Path("p.xml"), "Dear Madam")],
                                        lambda image, xml: "dear madam", case=True)
    assert score.cer == 0.0 and len(seconds) == 1 and order is None  # a text, not lines: no reading order
