"""Where a page's time goes: `python benchmarks/profile_page.py DIR [DIR ...] --pages 10`.

Reads the first ``--pages`` page images of each folder with the shipped models (default decoding) and writes
them as PAGE-XML, timing each stage by wrapping the function that does it: loading, orientation (the ink
profile), the detector's network, its post-processing, line crops, the recogniser's network, CTC decoding
with the language model, layout, writing. Each stage's time excludes the stages it calls. The second
detection of a page whose ink profile is unclear counts as detection, the upside-down check's lines (read
turned, in the same batches as the page's lines) as recognition. Prints a Markdown table of seconds per page
(mean over the pages) and the median total.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from pathlib import Path

import htr.detection.detector as detector_module
import htr.orientation as orientation
import htr.pipeline as pipeline
import htr.recognition.recognizer as recognizer_module
from htr.formats import write_document
from htr.imageio import IMAGE_SUFFIXES, load_page
from htr.runtime import PRECISIONS

totals: dict[str, float] = defaultdict(float)
_children: list[float] = []  # per open stage: the time its nested stages took
_opaque = [0]  # > 0 inside a stage that keeps its nested stages' time


def timed(name: str, fn, opaque: bool = False):
    def wrapper(*args, **kwargs):
        if _opaque[0]:
            return fn(*args, **kwargs)
        start = time.perf_counter()
        _children.append(0.0)
        _opaque[0] += opaque
        try:
            return fn(*args, **kwargs)
        finally:
            _opaque[0] -= opaque
            elapsed = time.perf_counter() - start
            totals[name] += elapsed - _children.pop()
            if _children:
                _children[-1] += elapsed
    return wrapper


STAGES = ["load", "orientation", "detection network", "detection post-processing", "line crops",
          "recognition network", "decoding", "layout", "writing"]


def instrument() -> None:
    orientation.row_column_ratio = timed("orientation", orientation.row_column_ratio)
    detector_module.Detector.maps = timed("detection network", detector_module.Detector.maps)
    detector_module.maps_to_detections = timed("detection post-processing", detector_module.maps_to_detections)
    pipeline.crop_page_lines = timed("line crops", pipeline.crop_page_lines)
    recognizer_module.Recognizer.logprobs = timed("recognition network", recognizer_module.Recognizer.logprobs)
    recognizer_module.decode = timed("decoding", recognizer_module.decode)
    pipeline.layout = timed("layout", pipeline.layout)
    pipeline.nest_shapes = timed("layout", pipeline.nest_shapes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="+", type=Path, help="folders of page images")
    parser.add_argument("--pages", type=int, default=10, help="pages read from each folder")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="the models' forward passes (default: auto)")
    args = parser.parse_args()
    instrument()
    reader = pipeline.Reader(precision=args.precision)
    load = timed("load", load_page)
    write = timed("writing", write_document)
    images = [path for d in args.dirs
              for path in sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[: args.pages]]
    reader.read(load_page(images[0]))  # warm-up: first-call costs are not a page's
    totals.clear()
    page_seconds = []
    for path in images:
        start = time.perf_counter()
        image = load(path)
        page = reader.read(image, source=path.name)
        write(page, "page", image)
        page_seconds.append(time.perf_counter() - start)
    n = len(images)
    print(f"{n} pages ({', '.join(str(d) for d in args.dirs)}); recogniser in "
          f"{'bfloat16' if reader.recognizer.bf16 else 'float32'}, detector in "
          f"{'bfloat16' if reader.detector.bf16 else 'float32'}; seconds per page, mean\n")
    print("| stage | s/page | share |\n|---|---|---|")
    whole = sum(page_seconds) / n
    for stage in STAGES:
        print(f"| {stage} | {totals[stage] / n:.3f} | {totals[stage] / n / whole:.0%} |")
    other = whole - sum(totals.values()) / n
    print(f"| other (the pipeline's own code) | {other:.3f} | {other / whole:.0%} |")
    print(f"| **total** | **{whole:.3f}** (median {statistics.median(page_seconds):.3f}) | |")


if __name__ == "__main__":
    main()
