"""`htr detect PAGE --overlay out.png [-o out.xml|out.json]` and `htr eval detect GT_DIR [--json]`."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import shapely

from htr.detection.postprocess import Detection
from htr.document import Line, Page, Word
from htr.errors import HTRError
from htr.layout import layout

COLOURS = {"line": (220, 40, 40), "word": (20, 150, 40)}  # RGB


def detections_to_page(detections: list[Detection], width: int, height: int, source: str | None = None) -> Page:
    """Lines in blocks and reading order (htr.layout), each with the words whose largest overlap is with it."""
    lines = [Line(polygon=d.polygon, confidence=round(d.score, 4)) for d in detections if d.kind == "line"]
    shapes = [shapely.Polygon(ln.polygon).buffer(0) for ln in lines]
    for w in (d for d in detections if d.kind == "word"):
        geom = shapely.Polygon(w.polygon).buffer(0)
        overlaps = [geom.intersection(s).area for s in shapes]
        if overlaps and max(overlaps) > 0.3 * geom.area:
            lines[int(np.argmax(overlaps))].words.append(Word(polygon=w.polygon, confidence=round(w.score, 4)))
    for line in lines:
        line.words.sort(key=lambda w: w.polygon[:, 0].min())
    return Page(width=width, height=height, blocks=layout(lines), source=source)


def draw_overlay(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    """The page with line polygons (red) and word polygons (green) drawn on it; RGB."""
    out = image.copy()
    thick = max(1, round(max(image.shape[:2]) / 800))
    for d in sorted(detections, key=lambda d: d.kind != "line"):
        pts = np.round(d.polygon).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(out, [pts], True, COLOURS.get(d.kind, (0, 0, 255)), thick if d.kind == "word" else thick + 1,
                      cv2.LINE_AA)
    return out


def configure_detect(p):
    p.add_argument("image", help="page image")
    p.add_argument("--overlay", help="write the page with the detected polygons drawn on it (PNG/JPEG)")
    p.add_argument("-o", "--output", help="write the polygons as PAGE-XML (.xml) or JSON (.json)")
    p.add_argument("--weights", help="detector weights (default: the shipped htr/weights/det.pt)")
    p.add_argument("--kinds", default="line,word", help="kinds to keep: line, word or both (default)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    return p


def run_detect(args) -> int:
    from htr.formats import format_for_path, write_document
    from htr.imageio import load_image

    from htr.detection.detector import Detector

    detector = Detector(args.weights, threads=args.threads or None)
    image = load_image(args.image)
    start = time.perf_counter()
    found = detector.detect(image, tuple(args.kinds.split(",")))
    took = time.perf_counter() - start
    n_lines = sum(d.kind == "line" for d in found)
    print(f"{args.image}: {n_lines} lines, {len(found) - n_lines} words in {took:.2f} s", file=sys.stderr)
    if args.overlay:
        ok = cv2.imwrite(str(args.overlay), draw_overlay(image, found)[:, :, ::-1])
        if not ok:
            raise HTRError(f"{args.overlay}: cannot write the overlay image (unknown extension or unwritable)")
    if args.output:
        page = detections_to_page(found, image.shape[1], image.shape[0], Path(args.image).name)
        fmt = format_for_path(args.output) or "page"
        if fmt not in ("page", "json", "alto", "hocr"):
            raise HTRError(f"{args.output}: write polygons as .xml (PAGE) or .json")
        Path(args.output).write_text(write_document(page, fmt), encoding="utf-8")
    if not args.overlay and not args.output:
        json.dump([{"kind": d.kind, "score": round(d.score, 4), "polygon": np.round(d.polygon, 1).tolist()}
                   for d in found], sys.stdout)
        print()
    return 0


def configure_eval_detect(p):
    from htr.peers import add_system_option

    p.add_argument("gt", nargs="+", help="folders of page images with ground-truth PAGE/ALTO XML of the same name "
                                         "(each folder holding XML, sub-folders too, is scored separately)")
    p.add_argument("--weights", help="detector weights (default: the shipped htr/weights/det.pt)")
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a match (default 0.5)")
    p.add_argument("--kind", default="line", choices=("line", "word"), help="what to score (default: line)")
    p.add_argument("--limit", type=int, default=0, help="score at most this many pages per folder")
    p.add_argument("--threads", type=int, default=0)
    add_system_option(p)
    p.add_argument("--json", action="store_true", help="print a JSON report")
    return p


def _finder(system: str, args):
    """A function from a page image to the polygons of the kind scored, for one system."""
    from htr import peers

    if system != "htr":
        if args.kind != "line":
            raise HTRError(f"--system {system}: only lines can be scored for peer engines (use --kind line)")
        return lambda image: peers.detect_lines(system, image)
    from htr.detection.detector import Detector

    detector = Detector(args.weights, threads=args.threads or None)
    return lambda image: [d.polygon for d in detector.detect(image) if d.kind == args.kind]


def run_eval_detect(args) -> int:
    from htr.detection.data import page_files
    from htr.evaluate import DetectionScore, match_polygons
    from htr.formats import read_document
    from htr.imageio import load_image
    from htr.peers import chosen_systems

    roots = [Path(g) for g in args.gt]
    for root in roots:
        if not root.is_dir():
            raise HTRError(f"{root}: not a folder")
    folders = sorted({x.parent for root in roots for x in root.rglob("*.xml")})
    pairs = {f: page_files(f)[: args.limit or None] for f in folders}
    pairs = {f: p for f, p in pairs.items() if p}
    if not pairs:
        raise HTRError(f"{', '.join(args.gt)}: no page images with ground-truth XML beside them")
    systems = chosen_systems(args.system)
    finders = {name: _finder(name, args) for name in systems}
    report = []  # (folder, pages, {system: score}, {system: [seconds per page]})
    for folder, items in pairs.items():
        scores, times = {name: DetectionScore() for name in systems}, {name: [] for name in systems}
        for image_path, xml_path in items:
            page = read_document(xml_path)
            gt = [ln.polygon for ln in page.lines] if args.kind == "line" else [w.polygon for w in page.words()]
            image = load_image(image_path)
            for name in systems:
                start = time.perf_counter()
                found = finders[name](image)
                times[name].append(time.perf_counter() - start)
                scores[name] += match_polygons(found, gt, args.iou)[0]
        report.append((str(folder), len(items), scores, times))
    pages = sum(n for _, n, _, _ in report)
    total = ("total", pages, {name: sum((r[2][name] for r in report), DetectionScore()) for name in systems},
             {name: [t for r in report for t in r[3][name]] for name in systems})

    def figures(s, t):
        return {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4),
                "tp": s.tp, "fp": s.fp, "fn": s.fn, "median_seconds": round(float(np.median(t)), 3)}

    def entry(scores, times):  # the first system's figures at the top, as when htr was the only system
        every = {name: figures(scores[name], times[name]) for name in systems}
        return {**every[systems[0]], "systems": every}

    if args.json:
        overall = entry(*total[2:])
        print(json.dumps({"kind": args.kind, "iou": args.iou, "median_seconds": overall["median_seconds"],
                          "folders": [{"folder": f, "pages": n, **entry(s, t)} for f, n, s, t in report],
                          "total": {"pages": pages, **overall}}, indent=1))
        return 0
    width = max(12, *(len(f) for f, _, _, _ in report))
    print(f"{'folder':<{width}} {'system':<9} {'pages':>5} {'P':>7} {'R':>7} {'F1':>7} {'s/page':>7}   "
          f"({args.kind}s at IoU {args.iou}; s/page: median)")
    for f, n, scores, times in report + [total]:
        for name in systems:
            s = scores[name]
            print(f"{f:<{width}} {name:<9} {n:5d} {s.precision:7.4f} {s.recall:7.4f} {s.f1:7.4f} "
                  f"{np.median(times[name]):7.3f}")
            f = ""
    return 0
