"""Recogniser shapes compared at equal CPU time: each grown from the shipped recogniser (``--init``: trained weights
kept, new units started small) and trained for the same minutes on the same data with the same recipe, then dev CER
(greedy, the run's fixed dev subset: an equal share of every source's dev lines), parameters, MACs per 1000 px and
inference lines/s in a table.

    python training/candidates.py --corpus ~/.cache/htr/corpus --minutes 15 --out runs/candidates [--only A,D]

Runs one after another (nothing else should use the cores meanwhile); a finished candidate (OUT/NAME/weights.pt)
is not trained again. Prints a Markdown table and writes OUT/table.md. From scratch, 15 minutes leave every shape
on CTC's all-blank plateau (dev CER ~0.98), so shapes are grown from the trained model instead: that is also how
the long run starts.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from htr.paths import default_weights

CANDIDATES = {  # name: (what, htr train rec options)
    "A": ("as shipped: CNN 16-32-64-96, 2x256 BiLSTM", ["--hidden", "256"]),
    "D": ("LSTM widened: CNN 16-32-64-96, 2x384 BiLSTM", ["--hidden", "384"]),
    "E": ("CNN widened: CNN 24-48-96-144, 2x256 BiLSTM", ["--channels", "24,48,96,144", "--hidden", "256"]),
    "F": ("both widened: CNN 24-48-96-144, 2x384 BiLSTM", ["--channels", "24,48,96,144", "--hidden", "384"]),
}
RECIPE = ["--lr", "1e-3", "--warmup", "100", "--synth", "auto", "--synth-steps", "0", "--ramp-steps", "0",
          "--synth-final", "0.25", "--augment", "0.75", "--eval-every", "500", "--eval-lines", "700", "--seed", "1"]


def data_specs(corpus: Path, weights: dict[str, float]) -> list[str]:
    """--data values: every source of the corpus, each with its weight (1 when not named)."""
    from htr.data.corpus import read_manifest

    return [f"{corpus / name}:{weights.get(name, 1.0)}" for name in sorted(read_manifest(corpus)["sources"])]


def last_eval(log: Path) -> dict:
    with open(log, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("dev_cer")]
    return rows[-1] if rows else {}


@torch.no_grad()
def lines_per_s(weights: Path, crops: list[np.ndarray], repeats: int = 3) -> float:
    """Greedy recognition throughput on the crops (median of ``repeats``)."""
    from htr.recognition.recognizer import Recognizer

    rec = Recognizer(weights, beam=0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        rec.recognize(crops)
        times.append(time.perf_counter() - t)
    return len(crops) / float(np.median(times))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--minutes", type=float, default=15)
    p.add_argument("--init", type=Path, default=default_weights("rec"), help="the model grown (default: the shipped one)")
    p.add_argument("--bf16", default="off", choices=("auto", "on", "off"), help="htr train rec --bf16 (default: off)")
    p.add_argument("--out", type=Path, default=Path("runs/candidates"))
    p.add_argument("--only", default="", help="comma-separated candidate names, run in that order (default: all)")
    p.add_argument("--weights", default="hooker=2,testaments=2,repertoires=0.4",
                   help="source weights NAME=W,... (default: hooker=2,testaments=2,repertoires=0.4)")
    args = p.parse_args(argv)
    weights = {k: float(v) for k, v in (kv.split("=") for kv in args.weights.split(",") if kv)}
    names = args.only.split(",") if args.only else list(CANDIDATES)
    specs = data_specs(args.corpus, weights)
    common = ["--init", str(args.init), "--minutes", str(args.minutes), "--bf16", args.bf16, *RECIPE,
              *(arg for spec in specs for arg in ("--data", spec))]
    for name in names:
        run = args.out / name
        if (run / "weights.pt").exists():
            continue
        cmd = [str(Path(sys.executable).with_name("htr")), "train", "rec", "--out", str(run), *CANDIDATES[name][1], *common]
        print(" ".join(cmd), flush=True)
        with open(args.out.joinpath(f"{name}.log"), "a") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)

    from htr.data.corpus import open_lines
    from htr.recognition.model import count_macs
    from htr.recognition.recognizer import load_weights

    from htr.train.data import training_lines
    from htr.train.rec import dev_subset, evaluate

    torch.set_num_threads(2)
    dev = open_lines(args.corpus, "dev", ["hooker"])
    crops = [dev.image(i) for i in range(min(400, len(dev)))]
    rows = ["| candidate | shape | params | MACs / 1000 px | steps | dev CER (subset, greedy) | hooker | testaments | "
            "lines/s (greedy, 400 hooker dev crops) |", "|---|---|---|---|---|---|---|---|---|"]
    _, all_dev, _ = training_lines(specs, args.out, 40)  # the dev lines as the runs see them
    model, codec, _ = load_weights(args.init)
    model.frozen_cnn = False
    start = evaluate(model, codec, all_dev, dev_subset(all_dev, 700))
    rows.append(f"| start | {args.init} | {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M | "
                f"{count_macs(model) / 1e9:.2f} G | 0 | {start['dev_cer']:.4f} | {start.get('dev_cer_hooker', 0):.4f} | "
                f"{start.get('dev_cer_testaments', 0):.4f} | {lines_per_s(args.init, crops):.0f} |")
    for name in names:
        run = args.out / name
        model, _, _ = load_weights(run / "weights.pt")
        ev = last_eval(run / "log.csv")
        rows.append(f"| {name} | {CANDIDATES[name][0]} | {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M | "
                    f"{count_macs(model) / 1e9:.2f} G | {ev.get('step', '?')} | {float(ev.get('dev_cer', 'nan')):.4f} | "
                    f"{float(ev.get('dev_cer_hooker', 'nan')):.4f} | {float(ev.get('dev_cer_testaments', 'nan')):.4f} | "
                    f"{lines_per_s(run / 'weights.pt', crops):.0f} |")
    table = "\n".join(rows)
    print(table)
    (args.out / "table.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
