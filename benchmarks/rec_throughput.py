"""Training throughput of recogniser shapes: lines/s of forward, backward and an AdamW step on batches of 16
random lines, float32 and bfloat16 autocast, at a given torch thread count.

    python benchmarks/rec_throughput.py [--threads 1] [--width 640] [--seconds 20] [--only v2,v3]

The shapes are those of training/candidates.py. Prints a Markdown table (median of the timed steps).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from candidates import CANDIDATES, shape_config  # noqa: E402
from htr.recognition.model import build_model, count_macs  # noqa: E402


def lines_per_s(model, height: int, width: int, bf16: bool, seconds: float, batch: int = 16) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    x = torch.rand(batch, 1, height, width)
    widths = torch.full((batch,), width)
    targets = torch.randint(2, model.cfg.num_classes, (batch * 20,))
    lengths = torch.full((batch,), 20)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x, widths)
        lp = logits.float().log_softmax(-1).transpose(0, 1)
        loss = ctc(lp, targets, model.frames(widths).clamp(max=lp.shape[0]), lengths)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times[2:]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--width", type=int, default=640, help="line width in pixels at 40 px height (scaled to each "
                   "shape's height)")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--only", default="")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.only.split(",") if args.only else list(CANDIDATES)
    print(f"threads {args.threads}; batch 16 lines {args.width} px wide at 40 px (scaled with the height)")
    print("| shape | what | params (CNN) | MACs / 1000 px | lines/s fp32 | lines/s bf16 |\n|---|---|---|---|---|---|")
    for name in names:
        cfg = shape_config(name, num_classes=120)
        model = build_model(cfg)
        model.train()
        width = args.width * cfg.height // 40
        fp32 = lines_per_s(model, cfg.height, width, False, args.seconds)
        bf16 = lines_per_s(model, cfg.height, width, True, args.seconds)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        cnn = sum(p.numel() for p in model.cnn.parameters()) / 1e6
        print(f"| {name} | {CANDIDATES[name][0]} | {params:.2f} M ({cnn:.2f} M) | {count_macs(model) / 1e9:.2f} G | "
              f"{fp32:.1f} | {bf16:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
