"""`htr detect PAGE --overlay out.png [-o out.xml|out.json]`: the lines and words of a page, without reading them."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from htr.cli.options import add_max_pixels, add_runtime, add_threads, add_weights
from htr.errors import HTRError, plural


def register(commands) -> None:
    p = commands.add_parser(
        "detect", help="find text lines and words on a page image",
        description="Detect text lines and words on a page image; write them as PAGE-XML or JSON and draw them.")
    p.add_argument("image", help="page image")
    p.add_argument("--overlay", help="write the page with the detected polygons drawn on it (PNG/JPEG)")
    p.add_argument("-o", "--output", help="write the polygons as PAGE-XML (.xml) or JSON (.json)")
    add_weights(p, "det")
    p.add_argument("--kinds", default="line,word", help="kinds to keep: line, word or both (default)")
    add_threads(p)
    add_runtime(p)
    add_max_pixels(p)
    p.add_argument("--no-orient", dest="orient", action="store_false",
                   help="do not turn a page scanned sideways upright before detecting (as htr page does; "
                        "telling an upside-down page needs the text, so it is detected as it lies)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from htr.detection.detector import Detector
    from htr.detection.postprocess import detections_to_page
    from htr.draw import draw_overlay, save_overlay
    from htr.formats import format_for_path, save_document
    from htr.imageio import load_image
    from htr.orientation import detect_oriented, unrotate_shapes

    detector = Detector(args.weights, threads=args.threads or None, runtime=args.runtime, precision=args.precision)
    image = load_image(args.image)
    height, width = image.shape[:2]
    start = time.perf_counter()
    oriented = detect_oriented(detector, image, tuple(args.kinds.split(",")), orient=args.orient)
    found = oriented.found  # on the page turned upright; in the scan's pixels once it is laid out
    took = time.perf_counter() - start
    page = detections_to_page(found, oriented.image.shape[1], oriented.image.shape[0], Path(args.image).name)
    unrotate_shapes([*page.elements(), *found], oriented.turns, width, height)
    page.width, page.height, page.rotation = width, height, 90 * oriented.turns
    n_lines = sum(d.kind == "line" for d in found)
    print(f"{args.image}: {plural(n_lines, 'line')}, {plural(len(found) - n_lines, 'word')} in {took:.2f} s",
          file=sys.stderr)
    if args.overlay:
        save_overlay(args.overlay, draw_overlay(image, found))
    if args.output:
        fmt = format_for_path(args.output) or "page"
        if fmt not in ("page", "json", "alto", "hocr"):
            raise HTRError(f"{args.output}: write polygons as .xml (PAGE) or .json")
        save_document(page, args.output, fmt)
    if not args.overlay and not args.output:
        json.dump([{"kind": d.kind, "score": round(d.score, 4), "polygon": np.round(d.polygon, 1).tolist()}
                   for d in found], sys.stdout)
        print()
    return 0
