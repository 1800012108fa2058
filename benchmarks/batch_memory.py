"""Memory across a long `htr batch` run: peak resident memory of the reading process after page 20 and at the
end, from the run's manifest (its peak_rss_mb field).

    python benchmarks/batch_memory.py IN_DIR [--pages 200] [HTR_BATCH_OPTION ...]

The first PAGES images of IN_DIR are linked into a temporary folder and read with `htr batch` (1 worker, in
process; other options, e.g. `--precision fp32`, are passed on); the growth of the peak from page 20 to the last
page is printed, with pages/s.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("in_dir")
    parser.add_argument("--pages", type=int, default=200)
    args, batch_options = parser.parse_known_args()
    images = sorted(p for p in Path(args.in_dir).iterdir() if p.suffix.lower() in SUFFIXES)[: args.pages]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp, "in"), Path(tmp, "out")
        src.mkdir()
        for image in images:
            os.symlink(image.resolve(), src / image.name)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "htr.cli", "batch", str(src), str(out), "--formats", "hocr",
                               "--quiet", *batch_options], check=False)
        seconds = time.perf_counter() - start
        records = [json.loads(line) for line in open(out / "manifest.jsonl")]
    peaks = [r["peak_rss_mb"] for r in records]
    early = peaks[min(19, len(peaks) - 1)]
    print(f"{len(records)} pages in {seconds:.0f} s ({len(records) / seconds:.2f} pages/s), exit {done.returncode}")
    print(f"peak RSS after page 20: {early:.0f} MB; after page {len(peaks)}: {peaks[-1]:.0f} MB; "
          f"growth {100 * (peaks[-1] / early - 1):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
