"""Fine-tuning on a collection the shipped recogniser never saw: held-out CER after 0, 5, 10 and 20 pages.

    python benchmarks/finetune.py GT_DIR --out runs/finetune [--pages 0,5,10,20] [--minutes 15]
        [--document REGEX] [--dev-share 0.3] [--tag NAME --extra "--lr 1e-3"]

The pages of GT_DIR (PAGE/ALTO beside images, searched recursively) are split by document (``--document``: a
regex whose first group is the document key, as ``htr data compile`` takes it) into held-out documents and
fine-tuning documents; the first N fine-tuning pages (in a fixed order, spread over documents) are linked into a
folder and `htr train rec --init WEIGHTS --data FOLDER:train --minutes M` adapts the shipped model to them. Each
model then reads every held-out line (`htr eval lines --weights`, default decoding). Runs already finished in OUT
are not trained again.
"""
import argparse
import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

from htr.data.compile import document_key, split_of
from htr.modelfile import load_model_file
from htr.data.pages import image_for
from htr.recognition.recognizer import DEFAULT_WEIGHTS


def link_pages(pages: list[tuple[Path, Path]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for xml, image in pages:
        for path in (xml, image):
            target = folder / path.name
            if not target.exists():
                target.symlink_to(path.resolve())


def held_out_cer(folder: Path, weights: Path) -> tuple[float, int]:
    """CER and lines of `htr eval lines FOLDER --weights WEIGHTS` (remembered in FOLDER/../evals.json)."""
    memo_path = folder.parent / "evals.json"
    memo = json.loads(memo_path.read_text()) if memo_path.exists() else {}
    key = f"{weights.resolve()}:{weights.stat().st_mtime_ns}"
    if key not in memo:
        out = subprocess.run([sys.executable, "-m", "htr.cli", "eval", "lines", str(folder), "--weights",
                              str(weights), "--json"], check=True, capture_output=True, text=True).stdout
        total = json.loads(out)["total"]
        memo[key] = (total["cer"], total["lines"])
        memo_path.write_text(json.dumps(memo, indent=1))
    return tuple(memo[key])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gt_dir")
    parser.add_argument("--out", default="runs/finetune")
    parser.add_argument("--pages", default="0,5,10,20")
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--document", default="page", help="document key rule (default: page)")
    parser.add_argument("--dev-share", type=float, default=0.3, help="share of documents held out (default: 0.3)")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="the model fine-tuned (default: shipped)")
    parser.add_argument("--tag", default="default", help="name of this recipe (run folders ft_TAG_N)")
    parser.add_argument("--extra", default="", help="more `htr train rec` options, one string")
    args = parser.parse_args()
    root, out = Path(args.gt_dir), Path(args.out)
    pages = [(x, image_for(x, None)) for x in sorted(root.rglob("*.xml"))]
    pages = [(x, i) for x, i in pages if i is not None]
    held, tune = [], []
    for xml, image in pages:
        doc = document_key(xml.relative_to(root), args.document)
        (held if split_of("finetune", doc, args.dev_share) == "dev" else tune).append((xml, image))
    tune.sort(key=lambda p: hashlib.sha1(p[0].name.encode()).hexdigest())
    link_pages(held, out / "heldout")
    print(f"{root}: {len(pages)} pages, {len(held)} held out, {len(tune)} to fine-tune on; "
          f"recipe {args.tag!r}: {args.minutes:g} min, {args.extra or 'default options'}", flush=True)
    rows = []
    for n in [int(k) for k in args.pages.split(",")]:
        if n > len(tune):
            print(f"only {len(tune)} pages to fine-tune on: skipping {n}", file=sys.stderr)
            continue
        weights, steps = Path(args.weights), 0
        if n:
            run = out / f"ft_{args.tag}_{n}"
            link_pages(tune[:n], out / f"pages_{n}")
            if not (run / "weights.pt").exists():
                cmd = [sys.executable, "-m", "htr.cli", "train", "rec", "--init", args.weights, "--data",
                       f"{out / f'pages_{n}'}:train", "--minutes", str(args.minutes), "--out", str(run),
                       *shlex.split(args.extra)]
                print("$ " + " ".join(cmd), flush=True)
                with open(out / f"ft_{args.tag}_{n}.log", "w") as log:
                    subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
            weights = run / "weights.pt"
            steps = load_model_file(weights, "rec")["meta"].get("step", 0)
        cer, lines = held_out_cer(out / "heldout", weights)
        rows.append((n, steps, cer, lines))
        base = rows[0][2] if rows[0][0] == 0 else None
        change = f"{(cer - base) / base:+.1%}" if base else ""
        print(f"pages {n:3d}  steps {steps:5d}  held-out CER {cer:.4f} ({lines} lines)  {change}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
