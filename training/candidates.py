"""Recogniser shapes compared at equal CPU time (issue 30, "candidates"): each trained from scratch on the same
corpus with the same recipe and the same batches (batch k is a function of the seed and k), for the same minutes
of its own CPU time, then tabled (dev CER on the runs' fixed dev subset, greedy; parameters; MACs) and plotted
(dev CER against CPU minutes, every candidate in one plot).

    python training/candidates.py --corpus ~/.cache/htr/corpus64 --minutes 45 --out ~/runs/v3cand [--only v2,v3]

The candidates run side by side, one torch thread and no data worker each (``--threads 1 --workers 0 --clock
cpu``): each process's CPU time is all of its work, so each gets the same budget however the cores are shared,
and they share whatever else the machine does. A finished candidate (OUT/NAME/weights.pt) is not run again; an
unfinished one resumes. The corpus is compiled at the tallest candidate's height (64 px); shorter shapes read
its crops resized (``CorpusLines.at_height``).
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

V3_CNN = {"height": 64, "stem": True, "stride": 8, "channels": "16,32,96,192", "blocks": "0,0,1,1"}
CANDIDATES = {  # name: (what, htr train rec options)
    "v2": ("v2's shape: 40 px, CNN 16-32-64-96, W/4 frames, 2x256 BiLSTM",
           {"height": 40, "stride": 4, "channels": "16,32,64,96", "blocks": "0,0,1,0", "hidden": 256, "layers": 2}),
    "v3": ("64 px, stride-2 stem, CNN 16-32-96-192 (a residual block in each of the last two), W/8 frames, "
           "2x256 BiLSTM",
           {**V3_CNN, "hidden": 256, "layers": 2}),
    "v3-aux": ("v3 + auxiliary CTC head on the CNN features (weight 0.1)",
               {**V3_CNN, "hidden": 256, "layers": 2, "aux_ctc": 0.1}),
    "v3-lstm": ("v3's CNN, 3x320 BiLSTM", {**V3_CNN, "hidden": 320, "layers": 3}),
}
# The recipe every candidate shares: from scratch, a short synthetic-only start and a ramp to real lines of every
# length that fit the budget, the v2 cycles' source weights and dev subset.
RECIPE = ["--lr", "1.5e-3", "--warmup", "300", "--synth", "auto", "--synth-steps", "600", "--ramp-steps", "2500",
          "--synth-final", "0.25", "--augment", "1.0", "--eval-every", "300", "--eval-lines", "700", "--seed", "1",
          "--bf16", "auto", "--threads", "1", "--workers", "0", "--clock", "cpu", "--ckpt-minutes", "10"]
WEIGHTS = {"hooker": 3.0, "testaments": 3.0, "repertoires": 0.4}


def options(name: str) -> list[str]:
    """htr train rec options of a candidate's shape."""
    out = []
    for key, value in CANDIDATES[name][1].items():
        flag = "--" + key.replace("_", "-")
        out += [flag] if value is True else [flag, str(value)]
    return out


def shape_config(name: str, num_classes: int):
    """The RecConfig of a candidate's shape."""
    from htr.recognition.model import RecConfig

    o = CANDIDATES[name][1]
    return RecConfig(num_classes=num_classes, height=o["height"], stride=o["stride"], stem=o.get("stem", False),
                     channels=tuple(int(c) for c in o["channels"].split(",")),
                     blocks=tuple(int(b) for b in o["blocks"].split(",")), hidden=o["hidden"], layers=o["layers"],
                     aux_ctc=o.get("aux_ctc", 0) > 0, packed=False)


def data_specs(corpus: Path) -> list[str]:
    """--data values: every source of the corpus, each with its weight (1 when not named)."""
    from htr.data.corpus import read_manifest

    return [f"{corpus / name}:{WEIGHTS.get(name, 1.0)}" for name in sorted(read_manifest(corpus)["sources"])]


def table(out: Path, names: list[str]) -> str:
    """Markdown: each candidate's shape, size, budget used and dev CER (last evaluation), per source too."""
    import torch

    from htr.recognition.model import count_macs
    from htr.recognition.recognizer import load_weights

    rows = []
    for name in names:
        with open(out / name / "log.csv", newline="") as f:
            evals = [r for r in csv.DictReader(f) if r.get("dev_cer")]
        last = evals[-1] if evals else {}
        model, _, _ = load_weights(out / name / "weights.pt") if (out / name / "weights.pt").exists() else (None,) * 3
        size = (f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M "
                f"({sum(p.numel() for p in model.cnn.parameters()) / 1e6:.2f} M) | {count_macs(model) / 1e9:.2f} G"
                if model is not None else "? | ?")
        best = min((float(r["dev_cer"]) for r in evals), default=float("nan"))
        rows.append((name, size, last, best))
        del model
        torch.set_num_threads(2)
    sources = sorted({k[len("dev_cer_"):] for _, _, last, _ in rows for k in last if k.startswith("dev_cer_")})
    lines = ["| candidate | shape | params (CNN) | MACs / 1000 px | steps | CPU min | dev CER | best | "
             + " | ".join(sources) + " |", "|" + "---|" * (8 + len(sources))]
    for name, size, last, best in rows:
        per = " | ".join(f"{float(last[f'dev_cer_{s}']):.3f}" if last.get(f"dev_cer_{s}") else "" for s in sources)
        lines.append(f"| {name} | {CANDIDATES[name][0]} | {size} | {last.get('step', '?')} | "
                     f"{float(last.get('cpu_s', 'nan')) / 60:.1f} | {float(last.get('dev_cer', 'nan')):.4f} | "
                     f"{best:.4f} | {per} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, required=True, help="a compiled corpus at the tallest shape's height")
    p.add_argument("--minutes", type=float, default=45, help="CPU minutes per candidate (default: 45)")
    p.add_argument("--out", type=Path, default=Path("runs/candidates"))
    p.add_argument("--only", default="", help="comma-separated candidate names (default: all)")
    p.add_argument("--report", action="store_true", help="only write the table and plot of the runs in OUT")
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(CANDIDATES)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        specs = [arg for spec in data_specs(args.corpus) for arg in ("--data", spec)]
        htr = str(Path(sys.executable).with_name("htr"))
        procs = []
        for name in names:
            if (args.out / name / "weights.pt").exists():
                continue
            cmd = [htr, "train", "rec", "--out", str(args.out / name), "--minutes", str(args.minutes),
                   *options(name), *RECIPE, *specs]
            print(" ".join(cmd), flush=True)
            with open(args.out / f"{name}.log", "a") as log:
                procs.append((name, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)))
        failed = [name for name, proc in procs if proc.wait() != 0]
        if failed:
            print(f"failed: {', '.join(failed)} (see OUT/NAME.log)", file=sys.stderr)
            return 1
    from htr.train.plot import plot_runs

    done = [n for n in names if (args.out / n / "log.csv").exists()]
    text = table(args.out, done)
    print(text)
    (args.out / "table.md").write_text(text + "\n")
    plot_runs({n: args.out / n / "log.csv" for n in done}, args.out / "cer_vs_cpu.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
