"""`htr page SCAN --out FORMAT` (one page to a document) and `htr eval pages GT_DIR` (the full pipeline
scored against ground-truth pages, side by side with other engines)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from htr.document import Page
from htr.errors import HTRError
from htr.formats import FORMATS
from htr.peers import add_system_option
from htr.recognition.command import add_decoding_options, lang_codes, lm_path


def _add_model_options(p) -> None:
    p.add_argument("--det-weights", help="detector weights (default: the shipped htr/weights/det.pt)")
    p.add_argument("--rec-weights", help="recogniser weights (default: the shipped htr/weights/rec.pt)")
    add_decoding_options(p)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-orient", dest="orient", action="store_false",
                   help="do not look for pages turned by 90, 180 or 270 degrees")


def _reader(args):
    from htr.pipeline import Reader

    return Reader(args.det_weights, args.rec_weights, threads=args.threads or None, beam=args.beam,
                  lm=lm_path(args), orient=args.orient, lang=lang_codes(args))


def configure_page(p):
    p.add_argument("image", help="page image (JPEG, PNG, TIFF, ...)")
    p.add_argument("--out", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--overlay", help="also write the page with lines (red) and words (green) drawn on it")
    p.add_argument("--lines", help="read the lines of this PAGE/ALTO segmentation instead of detecting them; "
                                   "the output keeps its regions, lines and ids")
    p.add_argument("--min-confidence", type=float, default=0.0,
                   help="drop lines and words whose confidence is below this (0-1; default 0: keep all)")
    _add_model_options(p)
    p.epilog = ("Exit codes: 0 the page was read (an empty page gives an empty document and a warning), "
                "1 the image, segmentation or weights could not be read, 2 bad arguments, 130 interrupted.")
    return p


def drop_unsure(page: Page, threshold: float) -> Page:
    """The page without lines and words whose confidence is under ``threshold``; line text follows the words
    that remain."""
    for block in page.blocks:
        block.lines = [ln for ln in block.lines if ln.confidence is None or ln.confidence >= threshold]
        for line in block.lines:
            kept = [w for w in line.words if w.confidence is None or w.confidence >= threshold]
            if len(kept) < len(line.words):
                line.words, line.text = kept, " ".join(w.text for w in kept)
    page.blocks = [b for b in page.blocks if b.lines]
    return page


def draw_page(image: np.ndarray, page: Page) -> np.ndarray:
    """The page image (RGB) with the page's line polygons and word polygons drawn on it."""
    from htr.detection.command import draw_overlay
    from htr.detection.postprocess import Detection

    shapes = [Detection(ln.polygon, ln.confidence or 0.0, "line") for ln in page.lines]
    shapes += [Detection(w.polygon, w.confidence or 0.0, "word") for w in page.words()]
    return draw_overlay(image, shapes)


def run_page(args) -> int:
    import cv2

    from htr.formats import write_document
    from htr.imageio import load_image

    image = load_image(args.image)
    lines = None
    if args.lines:
        from htr.formats import read_document
        lines = read_document(args.lines)
    page = _reader(args).read(image, lines=lines, source=Path(args.image).name)
    if args.min_confidence > 0:
        drop_unsure(page, args.min_confidence)
    if not page.text.strip():
        print(f"htr: warning: {args.image}: no text found", file=sys.stderr)
    document = write_document(page, args.out)
    if args.output:
        Path(args.output).write_text(document, encoding="utf-8")
    else:
        sys.stdout.write(document if document.endswith("\n") else document + "\n")
    if args.overlay and not cv2.imwrite(str(args.overlay), draw_page(image, page)[:, :, ::-1]):
        raise HTRError(f"{args.overlay}: cannot write the overlay image (unknown extension or unwritable)")
    return 0


def configure_eval_pages(p):
    p.add_argument("gt_dirs", nargs="+", help="folders of page images with ground-truth PAGE/ALTO beside them")
    add_system_option(p)
    p.add_argument("--gt-lines", action="store_true",
                   help="htr reads the ground-truth lines instead of detecting them (the recogniser's and the "
                        "layout's share of the error: reading order is the ground truth's)")
    p.add_argument("--limit", type=int, default=0, help="at most this many pages per folder (0: all)")
    p.add_argument("--ignore-case", action="store_true", help="compare case-insensitively")
    p.add_argument("--ignore-punctuation", action="store_true", help="drop punctuation before comparing")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    _add_model_options(p)
    return p


def run_eval_pages(args) -> int:
    """Read every ground-truth page with each system; page CER in reading order, bag-of-words F1 and
    seconds per page, per folder and in total."""
    from htr import peers
    from htr.evaluate import TextScore, score_text
    from htr.formats import read_document, write_document
    from htr.imageio import load_image
    from htr.recognition.lines import gt_documents, image_for

    systems = peers.chosen_systems(args.system)
    folders = []
    for folder in map(Path, args.gt_dirs):
        if not folder.is_dir():
            raise HTRError(f"{folder}: no such folder")
        pairs = []  # (image, ground-truth file, its text)
        for xml in gt_documents(folder):
            truth = read_document(xml)
            image = image_for(xml, truth.source)
            if image is not None:
                pairs.append((image, xml, truth.text))
        if not pairs:
            raise HTRError(f"{folder}: no page images with ground-truth XML beside them")
        folders.append((folder, pairs[: args.limit or None]))
    reader = _reader(args) if "htr" in systems else None
    width = max(6, *(len(str(f)) for f, _ in folders))
    if not args.json:
        print(f"{'folder':<{width}} {'system':<9} {'pages':>5} {'CER':>7} {'WER':>7} {'BoW-F1':>7} {'x htr':>6} "
              f"{'s/page':>7}   (s/page: median)")
    rows = []  # (folder, system, score, seconds per page)
    for folder, pairs in folders:
        for system in systems:
            score, seconds = TextScore(), []
            for image_path, xml, gt in pairs:
                start = time.perf_counter()
                if system == "htr":  # load to hOCR, as a user's run
                    page = reader.read(load_image(image_path), lines=xml if args.gt_lines else None)
                    write_document(page, "hocr")
                    text = page.text
                else:
                    text = peers.read_page_text(system, load_image(image_path))
                seconds.append(time.perf_counter() - start)
                score += score_text(text, gt, case=args.ignore_case, punctuation=args.ignore_punctuation)
            rows.append((str(folder), system, score, seconds))
            if not args.json:
                print(_page_row(rows, width), flush=True)
    if len(folders) > 1:
        for system in systems:
            mine = [r for r in rows if r[1] == system]
            rows.append(("total", system, sum((r[2] for r in mine), TextScore()), [t for r in mine for t in r[3]]))
            if not args.json:
                print(_page_row(rows, width))
    if args.json:
        def figures(folder, system, score, seconds):
            htr_cer = next((r[2].cer for r in rows if r[0] == folder and r[1] == "htr"), 0.0)
            return {"folder": folder, "system": system, "cer": round(score.cer, 4), "wer": round(score.wer, 4),
                    "bow_f1": round(score.bow_f1, 4), "x_htr": round(score.cer / htr_cer, 3) if htr_cer else None,
                    "pages": len(seconds), "median_seconds": round(float(np.median(seconds)), 3)}
        print(json.dumps({"rows": [figures(*r) for r in rows]}, indent=1))
    return 0


def _page_row(rows: list, width: int) -> str:
    """The last row of ``rows`` as a table line; the folder is named on its first system's row only, and the
    CER ratio is against htr's in the same folder."""
    folder, system, score, seconds = rows[-1]
    htr_cer = next((r[2].cer for r in rows if r[0] == folder and r[1] == "htr"), 0.0)
    ratio = f"{score.cer / htr_cer:.2f}" if htr_cer else "-"
    first = next(r for r in rows if r[0] == folder)[1] == system
    return (f"{folder if first else '':<{width}} {system:<9} {len(seconds):5d} {score.cer:7.4f} {score.wer:7.4f} "
            f"{score.bow_f1:7.4f} {ratio:>6} {np.median(seconds):7.2f}")
