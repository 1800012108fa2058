"""Evaluation runs: htr's models, and other engines (``htr.peers``), over ground truth on disk, scored with
``htr.evaluate``. ``htr eval`` prints what these return; tests and training scripts can call them directly.

A system is a function: a page image to polygons (detection), line crops to texts (lines), a ground-truth
page to its text (pages); ``polygon_finder``, ``line_reader`` and ``page_reader`` make them for htr and the
peers, and a model in training can be passed the same way.
"""
from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Callable, Iterable

from htr.document import Page
from htr.errors import HTRError
from htr.evaluate import DetectionScore, TextScore, match_polygons, score_text
from htr.reading_order import OrderScore, score_order


# ------------------------------------------------------------------------------------------------ texts

def document_pairs(pred: Path, gt: Path) -> tuple[list[tuple[str, Path | None, Path]], list[str]]:
    """(name, prediction or None, ground truth) for every ground-truth page, and unmatched predictions: two
    files, or two folders of documents matched by name."""
    from htr.formats import document_files, document_key

    for path in (pred, gt):
        if not path.exists():
            raise HTRError(f"{path}: no such file or directory")
    if gt.is_file():
        if pred.is_dir():
            raise HTRError(f"{gt} is a file but {pred} is a folder: give two files or two folders")
        return [(document_key(gt), pred, gt)], []
    if pred.is_file():
        raise HTRError(f"{gt} is a folder but {pred} is a file: give two files or two folders")
    gt_files, pred_files = document_files(gt), document_files(pred)
    if not gt_files:
        raise HTRError(f"{gt}: no ground-truth documents found")
    pairs = [(key, pred_files.get(key), path) for key, path in gt_files.items()]
    return pairs, sorted(set(pred_files) - set(gt_files))


def score_documents(pairs, case: bool = False,
                    punctuation: bool = False) -> list[tuple[str, TextScore, bool]]:
    """(name, score, whether the prediction is missing) per ``document_pairs`` pair; a missing prediction
    scores as an empty page."""
    from htr.formats import read_document

    rows = []
    for name, pred_path, gt_path in pairs:
        gt_text = read_document(gt_path).text
        pred_text = read_document(pred_path).text if pred_path else ""
        score = score_text(pred_text, gt_text, case=case, punctuation=punctuation)
        rows.append((name, score, pred_path is None))
    return rows


# ------------------------------------------------------------------------------------------------ detection

def detection_pages(roots: Iterable[Path], split: str = "dev",
                    limit: int = 0) -> dict[str, list[tuple[Path, Path]]]:
    """Row label -> (image, ground truth) pairs (at most ``limit`` each; 0: all): one row per folder holding
    PAGE/ALTO (sub-folders too) of each root, or per source of a compiled corpus's ``split``."""
    from htr.data.corpus import is_corpus, open_pages
    from htr.data.pages import page_files

    pairs = {}
    for root in roots:
        if is_corpus(root):
            for source, rows in open_pages(root, split).items():
                pairs[f"{root}:{source}"] = [(Path(r["image"]), Path(r["xml"])) for r in rows]
        else:
            for folder in sorted({x.parent for x in root.rglob("*.xml")}):
                pairs[str(folder)] = page_files(folder)
    return {f: p[: limit or None] for f, p in pairs.items() if p}


def polygon_finder(system: str, kind: str = "line", weights=None, threads: int | None = None,
                   **detector_options) -> Callable:
    """A function from a page image to the polygons of ``kind`` one system finds (htr: the detector of
    ``weights``, None: the shipped one; ``detector_options``: its runtime and precision)."""
    from htr import peers

    if system != "htr":
        if kind != "line":
            raise HTRError(f"--system {system}: only lines can be scored for peer engines (use --kind line)")
        return lambda image: peers.detect_lines(system, image)
    from htr.detection.detector import Detector

    detector = Detector(weights, threads=threads, **detector_options)
    return lambda image: [d.polygon for d in detector.detect(image) if d.kind == kind]


def score_detection(pages: list[tuple[Path, Path]], finders: dict[str, Callable], kind: str = "line",
                    iou: float = 0.5, on_page: Callable[[], None] | None = None,
                    ) -> tuple[dict[str, DetectionScore], dict[str, list[float]], dict[str, list[str]]]:
    """Per system: its matches at ``iou`` over the (image, ground truth) pages, its seconds per page, and the
    pages with ground truth where it found nothing. ``on_page`` is called after each page (a progress bar)."""
    from htr.formats import read_document
    from htr.imageio import load_image

    scores = {name: DetectionScore() for name in finders}
    seconds, empty = {name: [] for name in finders}, {name: [] for name in finders}
    for image_path, xml_path in pages:
        page = read_document(xml_path)
        gt = [ln.polygon for ln in page.lines] if kind == "line" else [w.polygon for w in page.words()]
        image = load_image(image_path)
        for name, find in finders.items():
            start = time.perf_counter()
            found = find(image)
            seconds[name].append(time.perf_counter() - start)
            scores[name] += match_polygons(found, gt, iou)[0]
            if gt and not found:
                empty[name].append(str(image_path))
        if on_page:
            on_page()
    return scores, seconds, empty


# ------------------------------------------------------------------------------------------------ lines

def line_reader(system: str, recognizer=None, kept: list | None = None) -> Callable[[list], list[str]]:
    """A function from line crops to their texts: htr's ``recognizer`` (appending each crop's
    ``LineRecognition``, confidences and all, to ``kept`` if given) or a peer engine."""
    from htr import peers

    def read_htr(crops: list) -> list[str]:
        recs = recognizer.recognize(crops)
        if kept is not None:
            kept.extend(recs)
        return [r.text for r in recs]

    if system == "htr":
        return read_htr
    return partial(peers.recognize_lines, system)


def score_lines(documents, readers: dict[str, Callable], case: bool = False, punctuation: bool = False,
                truths: list | None = None) -> tuple[dict[str, TextScore], dict[str, float], int, int]:
    """Each system's score and seconds spent recognising over lists of ``htr.data.lines.GTLine`` (a list per
    document, as ``htr.data.lines.labelled_inputs`` gives them), and the numbers of lines and documents;
    ``truths``: a list the true text of every line is appended to, in order."""
    scores, seconds = {name: TextScore() for name in readers}, dict.fromkeys(readers, 0.0)
    n, n_docs = 0, 0
    for lines in documents:
        n_docs += 1
        if truths is not None:
            truths.extend(line.text for line in lines)
        for name, read in readers.items():
            start = time.perf_counter()
            texts = read([line.image for line in lines])
            seconds[name] += time.perf_counter() - start
            for line, text in zip(lines, texts):
                scores[name] += score_text(text, line.text, case=case, punctuation=punctuation)
        n += len(lines)
    return scores, seconds, n, n_docs


# ------------------------------------------------------------------------------------------------ pages

def ground_truth_pages(folder: Path, limit: int = 0) -> list[tuple[Path, Path, str]]:
    """(image, ground-truth file, its text) for the pages of a folder with an image beside them (at most
    ``limit``; 0: all); HTRError when there is none."""
    from htr.data.pages import gt_documents, image_for
    from htr.formats import read_document

    pairs = []
    for xml in gt_documents(folder):
        truth = read_document(xml)
        image = image_for(xml, truth.source)
        if image is not None:
            pairs.append((image, xml, truth.text))
    if not pairs:
        raise HTRError(f"{folder}: no page images with ground-truth XML beside them")
    return pairs[: limit or None]


def page_sets(roots: Iterable[Path], split: str = "dev", limit: int = 0) -> dict[str, list[tuple[Path, Path, str]]]:
    """Row label -> ``ground_truth_pages`` pages (at most ``limit`` each; 0: all): a folder's, or per source of
    a compiled corpus's ``split``, in compile order."""
    from htr.data.corpus import is_corpus, open_pages
    from htr.formats import read_document

    sets = {}
    for root in roots:
        if not is_corpus(root):
            sets[str(root)] = ground_truth_pages(root, limit)
            continue
        for source, rows in open_pages(root, split).items():
            rows = rows[: limit or None]
            sets[f"{root}:{source}"] = [(Path(r["image"]), Path(r["xml"]), read_document(r["xml"]).text)
                                        for r in rows]
    return {label: pages for label, pages in sets.items() if pages}


def page_reader(system: str, reader=None, gt_lines: bool = False) -> Callable[[Path, Path], "str | Page"]:
    """A function from a page image and its ground-truth file to the page read: htr's ``reader`` (loaded
    to hOCR, as a user's run; ``gt_lines``: reading the ground truth's lines instead of detecting them), or a
    peer engine's text."""
    from htr import peers
    from htr.formats import write_document
    from htr.imageio import load_image

    def read_htr(image_path: Path, xml: Path) -> Page:
        page = reader.read(load_image(image_path), lines=xml if gt_lines else None)
        write_document(page, "hocr")
        return page

    if system == "htr":
        return read_htr
    return lambda image_path, xml: peers.read_page_text(system, load_image(image_path))


def score_pages(pages: list[tuple[Path, Path, str]], read: Callable[[Path, Path], "str | Page"],
                case: bool = False, punctuation: bool = False) -> tuple[TextScore, list[float], OrderScore | None]:
    """One system's page-text score over ``ground_truth_pages`` pages, its seconds per page, and its
    reading-order score (``htr.reading_order``; None when ``read`` gives text, not a page with lines)."""
    from htr.formats import read_document

    score, seconds, order = TextScore(), [], OrderScore()
    for image_path, xml, gt in pages:
        start = time.perf_counter()
        page = read(image_path, xml)
        seconds.append(time.perf_counter() - start)
        text = page if isinstance(page, str) else page.text
        score += score_text(text, gt, case=case, punctuation=punctuation)
        if order is not None and not isinstance(page, str):
            order += score_order(page.lines, read_document(xml).lines, case=case, punctuation=punctuation)
        else:
            order = None
    return score, seconds, order
