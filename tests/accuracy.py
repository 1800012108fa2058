"""The shipped weights' figures on a few real dev documents, recorded beside the tests (accuracy_figures.json)
and checked by tests/test_accuracy.py, so that a weights commit that reads worse fails the suite.

    python -m tests.accuracy          # measure and compare with the record
    python -m tests.accuracy --write  # measure and record (after shipping new weights; quote it in the model card)

Measured with the commands a user runs: ``htr eval lines`` (the first LINE_DOCS documents of each dev set),
``htr eval detect`` (its first DETECT_PAGES pages) and ``htr eval pages`` (its first page, end to end).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
from pathlib import Path

from htr.cli import main as htr_main
from htr.paths import DEFAULT_LM, REPO, default_weights, shared_dir

RECORD = Path(__file__).with_name("accuracy_figures.json")
SETS = ("hooker", "testaments")
LINE_DOCS, DETECT_PAGES = 4, 4
# How much worse than the record a measurement may be (CPUs differ in the last bits of floating point).
MARGINS = {"line_cer": 0.01, "page_cer": 0.02, "line_f1": 0.02}


def dev_folders() -> list[str]:
    return [str(shared_dir() / "data" / name / "dev") for name in SETS]


def weights_digest() -> dict[str, str]:
    """The first 16 hex digits of the SHA-256 of each shipped weights file."""
    files = {"det": default_weights("det"), "rec": default_weights("rec"), "lm": DEFAULT_LM}
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()[:16] for name, path in files.items()}


def run_json(*args: str) -> dict:
    """An htr command's --json output, run in this process."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = htr_main([*args, "--json"])
    assert code == 0, f"htr {' '.join(args)} exited {code}"
    return json.loads(out.getvalue())


def measure() -> dict[str, dict[str, float]]:
    """{"line_cer" | "line_f1" | "page_cer": {set: figure}} of the shipped weights."""
    folders = dev_folders()
    lines = run_json("eval", "lines", *folders, "--limit", str(LINE_DOCS))
    detect = run_json("eval", "detect", *folders, "--limit", str(DETECT_PAGES), "--threads", "2")
    pages = run_json("eval", "pages", *folders, "--limit", "1", "--threads", "2")
    name = {folder: Path(folder).parent.name for folder in folders}
    return {
        "line_cer": {name[f]: e["cer"] for f, e in lines["folders"].items()},
        "line_f1": {name[e["folder"]]: e["f1"] for e in detect["folders"]},
        "page_cer": {name[r["folder"]]: r["cer"] for r in pages["rows"] if r["folder"] in name},
    }


def worse(measured: dict, recorded: dict) -> list[str]:
    """The figures of ``measured`` worse than ``recorded`` by more than their margin."""
    out = []
    for figure, per_set in recorded.items():
        for name, old in per_set.items():
            new = measured[figure][name]
            if (new < old - MARGINS[figure]) if figure.endswith("f1") else (new > old + MARGINS[figure]):
                out.append(f"{figure} {name}: {new:.4f} against {old:.4f} recorded")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="record the measurement in accuracy_figures.json")
    args = p.parse_args(argv)
    measured = measure()
    print(json.dumps(measured, indent=1))
    if args.write:
        RECORD.write_text(json.dumps({"weights": weights_digest(), "figures": measured,
                                      "measured_with": "python -m tests.accuracy --write"}, indent=1) + "\n")
        print(f"wrote {RECORD.relative_to(REPO)}")
        return 0
    problems = worse(measured, json.loads(RECORD.read_text())["figures"])
    print("\n".join(problems) or "as recorded (within the margins)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
