"""Training the line recogniser: ``htr train rec --data CORPUS... --out runs/rec`` (resumes from OUT/last.pt).

Data: compiled corpora (``htr data compile``) or ground-truth folders (compiled on the fly into OUT/corpus), each
``--data`` entry drawn in proportion to its train lines times its weight (``PATH:WEIGHT``); default: the hooker and
testaments sets of ../shared/data. Fine-tuning a shipped model on a user's pages is one command::

    htr train rec --init htr/weights/rec.pt --data my_pages/ --minutes 15 --out runs/mine
    htr page scan.jpg --rec-weights runs/mine/weights.pt

With ``--init`` the defaults are those of fine-tuning (lower learning rate, short warm-up, no synthetic lines);
characters of the data the model lacks (seen ``--min-char-count`` times) grow its output layer.

CTC loss, AdamW with linear warm-up and cosine decay, gradient clipping. Every ``--ckpt-minutes`` it writes
OUT/last.pt (model, optimiser, scheduler, step, RNG states: a full resume); at every dev evaluation it logs
CER on a fixed subset of the dev lines (never trained on) to OUT/log.csv, keeps OUT/best.pt (a weights file
as ``htr.recognition.load_weights`` reads) and redraws OUT/curve.png. ``--export CKPT WEIGHTS`` writes a
shippable weights file from a checkpoint.

A run's options are one ``RecRecipe``, written to OUT/recipe.toml and into every checkpoint: rerunning
``htr train rec --out OUT`` resumes with them, options given then override them (a changed plan is reported),
and ``--config FILE`` reads a recipe file (htr.train.recipe). Batch k is a pure function of (seed, k), so the
data position is the step. SIGTERM or Ctrl-C finishes the step, checkpoints and exits.

The shipped weights' recipe (MODEL_CARD.md): v1 grown to the whole public corpus, ``training/train_rec.sh
candidates`` (shapes at equal time), then cosine cycles of the winner, ``training/train_rec.sh cycle N MINUTES``,
each ``--config training/recipes/rec-v2-cycle.toml`` from the previous cycle's weights.
"""
from __future__ import annotations

import argparse
import csv
import math
import random
import signal
import sys
import time

# OpenMP waiting: libgomp's default (spin briefly, then sleep) trains ~1.5x faster than PASSIVE on 2 cores (the
# LSTM's many small parallel regions); ACTIVE (spin forever) stalls both processes when another job shares the cores.
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from htr.errors import UsageError
from htr.evaluate import score_text
from htr.files import atomic_path
from htr.recognition.codec import DEFAULT_CHARSET, Codec
from htr.recognition.decode import greedy_decode
from htr.recognition.model import RecConfig, build_model, count_macs
from htr.recognition.recognizer import load_weights, make_batch, normalize, save_weights
from htr.runtime import native_bf16
from htr.data.corpus import CorpusLines
from htr.train.grow import grow_into, read_model
from htr.train.data import (BatchData, Mix, default_data, new_characters, synth_available, training_lines,
                            worker_init)
from htr.train.plot import plot_curves, trim_log
from htr.train.recipe import add_config_option, option, recipe_of, write_recipe

PLAN = ("steps", "batch_size", "lr", "warmup", "weight_decay", "synth", "synth_steps", "ramp_steps", "synth_final",
        "seed", "augment", "minutes", "train_layers")  # what a resumed run changes only on purpose (reported)
LOG_FIELDS = ["step", "time_s", "cpu_s", "lr", "loss", "lines_per_s", "synth_share", "dev_cer", "dev_wer", "dev_lines"]
# Defaults that depend on whether a run starts from scratch or fine-tunes a trained model (--init).
# FINETUNE: measured on Peraire, 10 pages, 4 minutes (MODEL_CARD.md, "Fine-tuning"): lr 2e-3 over 1e-3 and 3e-4,
# augmentation 0.5 over 1.0, every layer trained over the CNN frozen.
SCRATCH = {"lr": 1.5e-3, "warmup": 500, "synth": "auto", "synth_steps": Mix.synth_steps, "ramp_steps": Mix.ramp_steps,
           "eval_every": 500, "augment": 1.0}
FINETUNE = {"lr": 2e-3, "warmup": 50, "synth": "off", "synth_steps": 0, "ramp_steps": 0, "eval_every": 200,
            "augment": 0.5}


@dataclass
class RecRecipe:
    """A recogniser training run's options (``htr train rec --help``); None: the default of SCRATCH or FINETUNE."""

    data: list[str] | None = None  # None: default_data()
    dev_share: float = 0.1
    minutes: float = 0.0
    steps: int = 40000
    batch_size: int = 16
    lr: float | None = None
    warmup: int | None = None
    weight_decay: float = 0.01
    clip: float = 5.0
    height: int = 40
    channels: str = "16,32,64,96"
    blocks: str = "0,0,1,0"
    hidden: int = 128
    layers: int = 2
    stride: int = 4
    stem: bool = False
    aux_ctc: float = 0.0
    packed: bool = False
    synth: str | None = None
    synth_steps: int | None = None
    ramp_steps: int | None = None
    synth_final: float = Mix.synth_final
    eval_every: int | None = None
    eval_lines: int = 300
    log_every: int = 50
    ckpt_minutes: float = 5.0
    clock: str = "wall"
    max_steps: int = 0
    threads: int = 2
    bf16: str = "off"
    device: str = "auto"
    workers: int = 1
    seed: int = 1
    augment: float | None = None
    init: str | None = None
    train_layers: str = "all"
    min_char_count: int = 3

    def resolved(self) -> "RecRecipe":
        """Unset options filled with the defaults of fine-tuning (with ``init``) or of a run from scratch."""
        defaults = FINETUNE if self.init else SCRATCH
        return replace(self, **{k: v for k, v in defaults.items() if getattr(self, k) is None})


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    def a(*flags, **kwargs):
        option(parser, RecRecipe, *flags, **kwargs)

    parser.add_argument("--out", default="runs/rec", help="run folder: checkpoints, log.csv, curve.png, "
                        "recipe.toml, weights.pt, corpus/ (default: runs/rec); a run there is resumed")
    add_config_option(parser)
    a("--data", action="append", metavar="CORPUS|GT[:WEIGHT]",
      help="training data, repeatable: a compiled corpus (htr data compile), one source of it (CORPUS/SOURCE), "
           "or a ground-truth folder as `htr data "
           "compile` takes it ([NAME=]GT[:train|:dev]), compiled into OUT/corpus; WEIGHT multiplies how often its "
           "lines are drawn relative to its size (default: ../shared/data hooker and testaments, train and dev)")
    a("--dev-share", type=float, help="share of documents of unmarked GT folders held out for evaluation")
    a("--minutes", type=float, help="train for this many minutes, the learning rate decaying over them (0: until "
      "--steps)")
    a("--steps", type=int, help="total optimiser steps of the LR schedule")
    a("--batch-size", type=int)
    a("--lr", type=float, help="peak learning rate (default: 1.5e-3; 2e-3 with --init)")
    a("--warmup", type=int, help="linear warm-up steps (default: 500; 50 with --init)")
    a("--weight-decay", type=float)
    a("--clip", type=float, help="gradient-norm clipping")
    a("--height", type=int, help="input height in pixels")
    a("--channels", help="CNN channels per stage")
    a("--blocks", help="residual blocks per stage")
    a("--hidden", type=int, help="LSTM hidden size per direction")
    a("--layers", type=int, help="BiLSTM layers")
    a("--stride", type=int, choices=(4, 8), help="crop pixels per CTC frame")
    a("--stem", action="store_true", help="a stride-2 first convolution, then W/8 frames of H/16 rows (version "
      "3's shape; needs --stride 8 and a height that is a multiple of 16)")
    a("--aux-ctc", type=float, help="weight of an auxiliary CTC loss on the CNN's features (the CTC shortcut; "
      "0: no auxiliary head)")
    a("--packed", action="store_true", help="BiLSTM over packed sequences, each line exactly its own frames (the "
      "first models' way; ~2.5x slower to train on CPU than over the padded batch, the default)")
    a("--synth", choices=("auto", "on", "off"),
      help="synthetic lines from htr.synth: auto uses them when they render here (default: auto; off with --init)")
    a("--synth-steps", type=int, help=f"synthetic-only warm start, in steps (default: {Mix.synth_steps}; 0 with "
      "--init)")
    a("--ramp-steps", type=int, help=f"step by which real lines of every length are in (default: {Mix.ramp_steps}; "
      "0 with --init)")
    a("--synth-final", type=float, help="share of synthetic lines after the ramp")
    a("--eval-every", type=int, help="dev evaluation interval in steps (default: 500; 200 with --init)")
    a("--eval-lines", type=int, help="size of the fixed dev subset")
    a("--log-every", type=int)
    a("--ckpt-minutes", type=float, help="checkpoint interval in minutes")
    a("--clock", choices=("wall", "cpu"), help="what --minutes counts: wall-clock time, or this process's CPU time "
      "(all of a run's work with --workers 0; runs sharing the cores then get equal budgets); dev evaluations "
      "are not counted either way")
    a("--max-steps", type=int, help="stop after this step (0: at --steps)")
    a("--threads", type=int, help="torch threads")
    a("--bf16", choices=("auto", "on", "off"),
      help="forward pass in bfloat16 (autocast; the loss and optimiser stay fp32): auto uses it where the CPU "
           "has native bfloat16 (AMX or AVX512-BF16)")
    a("--device", choices=("cpu", "cuda", "auto"),
      help="where the model trains: cpu, cuda (a GPU), or auto (cuda where torch sees one); batches are made on "
           "the CPU by --workers either way")
    a("--workers", type=int, help="DataLoader workers")
    a("--seed", type=int)
    a("--augment", type=float, help="augmentation strength: probability scale (default: 1.0; 0.5 with --init)")
    a("--init", metavar="WEIGHTS", help="start a new run from a trained model (a weights file or checkpoint), "
      "widening its LSTM to --hidden and its CNN stages to --channels where those are larger, and its output layer "
      "to characters of the data it lacks")
    a("--train-layers", choices=("all", "top"),
      help="all, or top: the CNN frozen (weights and batch-norm statistics), the LSTM and output layer trained")
    a("--min-char-count", type=int, help="with --init: how often a new character must occur in the train lines "
      "to be added")
    parser.add_argument("--export", nargs=2, metavar=("CKPT", "WEIGHTS"),
                        help="write WEIGHTS (fp16) from a checkpoint and exit")
    return parser


def lr_lambda(step: int, warmup: int, total: int, progress: float | None = None) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak over the steps (or ``progress``, 0..1, when given)."""
    if step < warmup:
        return (step + 1) / warmup
    if progress is None:
        progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def dev_subset(dev: CorpusLines, n: int) -> list[int]:
    """A fixed, evenly spread subset of dev lines, an equal share from each source where possible."""
    groups: dict[str, list[int]] = {}
    for i in range(len(dev)):
        groups.setdefault(dev.source(i), []).append(i)
    per = max(1, n // max(1, len(groups)))
    chosen = []
    for idx in groups.values():
        step = max(1, len(idx) // per)
        chosen += idx[::step][:per]
    return sorted(chosen)


def training_device(choice: str) -> torch.device:
    """The torch device of ``--device`` (cpu, cuda, or auto: cuda where torch sees a GPU)."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no GPU here (use --device cpu or auto)")
    return torch.device(choice)


@torch.no_grad()
def evaluate(model, codec: Codec, dev: CorpusLines, subset: list[int], batch_size: int = 32) -> dict:
    """Greedy-decoded CER/WER on the dev subset, overall and per source (dev_cer_SOURCE)."""
    model.eval()
    device = next(model.parameters()).device
    order = sorted(subset, key=lambda i: dev.widths[i])
    scores: dict[str, object] = {}
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        x, widths = make_batch([normalize(dev.image(i)) for i in idx])
        lp = model(x.to(device), widths).float().log_softmax(-1).cpu().numpy()
        for k, i in enumerate(idx):
            text = greedy_decode(lp[k, : int(model.frames(widths[k]))], codec, model.cfg.stride).text
            s = score_text(text, dev.texts[i])
            for key in ("all", dev.source(i)):
                scores[key] = scores[key] + s if key in scores else s
    train_mode(model, model.frozen_cnn)
    out = {"dev_cer": scores["all"].cer, "dev_wer": scores["all"].wer, "dev_lines": len(subset)}
    for name in sorted(scores):
        if name != "all":
            out[f"dev_cer_{name}"] = scores[name].cer
    return out


def train_mode(model, frozen_cnn: bool) -> None:
    """The model in training mode, its CNN (batch-norm statistics included) kept in eval mode when frozen."""
    model.train()
    if frozen_cnn:
        model.cnn.eval()


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def export(ckpt: str, weights: str) -> int:
    """A shippable fp16 weights file from a checkpoint (last.pt) or a best.pt weights file."""
    blob = torch.load(ckpt, map_location="cpu", weights_only=False)
    if "optimizer" not in blob:  # already a weights file (best.pt)
        model, codec, info = load_weights(ckpt)
        meta = info.get("meta", {})
    else:
        model = build_model(RecConfig.from_dict(blob["config"]))
        model.load_state_dict(blob["model"])
        codec, meta = Codec(blob["charset"]), {"step": blob["step"], "best_dev_cer": blob.get("best_cer")}
    save_weights(weights, model, codec, meta)
    size = Path(weights).stat().st_size / 1e6
    print(f"wrote {weights} ({size:.1f} MB) from {ckpt}: {meta}")
    return 0


def run(args) -> int:
    if args.export:
        return export(*args.export)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    last = out / "last.pt"
    resume = torch.load(last, map_location="cpu", weights_only=False) if last.exists() else None
    saved = (resume.get("recipe") or resume["args"]) if resume else None  # "args": checkpoints before recipes
    try:
        r = recipe_of(RecRecipe, args, saved).resolved()
        device = training_device(r.device)
    except UsageError as err:
        print(f"htr: error: {err}", file=sys.stderr)
        return 2
    if resume and r.init != saved.get("init"):  # the model a run started from is part of its history
        print(f"note: resuming the run in {out}, which started from {saved.get('init') or 'scratch'}: --init "
              f"{r.init} is not used", flush=True)
        r = replace(r, init=saved.get("init"))
    torch.set_num_threads(r.threads)
    torch.set_flush_denormal(True)
    init_state = None
    if resume:
        cfg, codec = RecConfig.from_dict(resume["config"]), Codec(resume["charset"])
    elif r.init:
        init_state, init_cfg, charset = read_model(r.init)
        codec = Codec(charset)
        channels = tuple(max(a, b) for a, b in zip(map(int, r.channels.split(",")), init_cfg.channels))
        cfg = replace(init_cfg, hidden=max(r.hidden, init_cfg.hidden), channels=channels, packed=r.packed)
    else:
        cfg = RecConfig(num_classes=0, height=r.height, hidden=r.hidden, layers=r.layers, stride=r.stride,
                        packed=r.packed, stem=r.stem, aux_ctc=r.aux_ctc > 0,
                        channels=tuple(int(c) for c in r.channels.split(",")),
                        blocks=tuple(int(b) for b in r.blocks.split(",")))
    try:
        r = replace(r, data=r.data or default_data())
        train, dev, weights = training_lines(r.data, out, cfg.height, r.dev_share, max(1, r.workers))
    except (FileNotFoundError, ValueError) as err:
        print(f"htr: error: {err}", file=sys.stderr)
        return 1
    write_recipe(out / "recipe.toml", r, f"The options of the run in {out} (htr train rec --config reads them).")
    if not resume and r.init:
        extra = new_characters(train.texts, codec, r.min_char_count)
        if extra:
            codec = Codec(codec.charset + extra)
            print(f"output layer grown by {len(extra)} characters of the data: {extra}", flush=True)
        cfg = replace(cfg, num_classes=len(codec))
    elif not resume:
        codec = Codec(DEFAULT_CHARSET + "".join(sorted(set("".join(train.texts)))))
        cfg = replace(cfg, num_classes=len(codec))
    model = build_model(cfg).to(device)
    model.frozen_cnn = r.train_layers == "top"
    for p in model.cnn.parameters():
        p.requires_grad_(not model.frozen_cnn)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=r.lr,
                            weight_decay=r.weight_decay)
    clock = {"elapsed": 0.0}  # seconds trained, for a schedule over --minutes

    def lr_at(s: int) -> float:
        progress = clock["elapsed"] / (60 * r.minutes) if r.minutes else None
        return lr_lambda(s, r.warmup, r.steps, progress)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    step, best_cer, elapsed, cpu_s = 0, float("inf"), 0.0, 0.0
    if resume:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        step, best_cer, elapsed = resume["step"], resume["best_cer"], resume["elapsed"]
        cpu_s = resume.get("cpu_s", 0.0)
        clock["elapsed"] = elapsed
        random.setstate(resume["rng"]["python"])
        np.random.set_state(resume["rng"]["numpy"])
        torch.set_rng_state(resume["rng"]["torch"])
        print(f"resumed from {last} at step {step} (best dev CER {best_cer:.4f})", flush=True)
        changed = {k: (saved.get(k), getattr(r, k)) for k in PLAN if saved.get(k) != getattr(r, k)}
        if changed:
            print(f"note: resuming with a changed plan (checkpoint -> now): {changed}", flush=True)
    else:
        torch.manual_seed(r.seed)
        if init_state is not None:
            grow_into(model, init_state)
            print(f"initialised from {r.init} (LSTM {init_cfg.hidden} -> {cfg.hidden} per direction, CNN channels "
                  f"{init_cfg.channels} -> {cfg.channels})", flush=True)

    reason = synth_available() if r.synth != "off" else "switched off"
    use_synth = reason is None
    if r.synth == "on" and not use_synth:
        print(f"htr: synthetic lines unavailable: {reason}", file=sys.stderr)
        return 1
    print(f"synthetic lines: {'on' if use_synth else 'off (' + reason + ')'}", flush=True)
    bf16 = r.bf16 == "on" or (r.bf16 == "auto" and (device.type == "cuda" or native_bf16()))
    print(f"forward pass in {'bfloat16' if bf16 else 'float32'} on "
          f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else 'the CPU'}", flush=True)
    mix = Mix(synth_steps=r.synth_steps, ramp_steps=r.ramp_steps, synth_final=r.synth_final)
    subset = dev_subset(dev, r.eval_lines) if len(dev) else []
    data = BatchData(train, codec, r.batch_size, mix, r.seed, cfg.height, use_synth, r.augment, weights,
                     cfg.stride)
    if not data.index and not use_synth:
        print("htr: error: no usable training lines in the data (and synthetic lines are off)", file=sys.stderr)
        return 1
    print(f"model {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, "
          f"{count_macs(model) / 1e6:.0f}M MACs per 1000-px line; {len(data.index)} real train lines "
          f"from {', '.join(sorted(set(train.sources)))}; {len(subset)} dev lines for evaluation"
          + ("" if subset else " (none: weights.pt will be the last step's)"), flush=True)
    stop = r.max_steps or r.steps
    loader = torch.utils.data.DataLoader(data, batch_size=None, sampler=range(step, stop),
                                         num_workers=r.workers, worker_init_fn=worker_init,  # spawn: fork deadlocks in cv2
                                         prefetch_factor=4 if r.workers else None,
                                         persistent_workers=False, pin_memory=device.type == "cuda",
                                         multiprocessing_context="spawn" if r.workers else None)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    log_path = out / "log.csv"
    trim_log(log_path, step)
    new_log = not log_path.exists()
    fields = LOG_FIELDS + [f"dev_cer_{name}" for name in sorted({dev.source(i) for i in subset})]
    if not new_log:
        with open(log_path, newline="") as f:
            fields = next(csv.reader(f))
    log_file = open(log_path, "a", newline="")
    log = csv.DictWriter(log_file, fields, extrasaction="ignore")
    if new_log:
        log.writeheader()

    def state() -> dict:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                "step": step, "best_cer": best_cer, "elapsed": elapsed, "cpu_s": cpu_s, "config": cfg.to_dict(),
                "charset": codec.charset, "recipe": asdict(r), "mix": asdict(mix),
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}}

    stopping = []  # SIGTERM / SIGINT: finish the step, checkpoint, exit
    handlers = {sig: signal.signal(sig, lambda *_: stopping.append(True)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        train_mode(model, model.frozen_cnn)
        clock_now = time.process_time if r.clock == "cpu" else time.time
        t_ckpt, t_clock, t_cpu = time.time(), clock_now(), time.process_time()
        losses, lines, synth_lines, t_log = [], 0, 0, time.time()
        aux_weight = r.aux_ctc if cfg.aux_ctc else 0.0
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits, aux_logits = model(batch["x"], batch["widths"], aux=True) if aux_weight else (
                    model(batch["x"], batch["widths"]), None)
            frames = model.frames(batch["widths"]).clamp(max=logits.shape[1])
            lp = logits.float().log_softmax(-1).transpose(0, 1)  # (T, B, C)
            loss = ctc(lp, batch["targets"], frames, batch["target_lengths"])
            total = loss
            if aux_logits is not None:
                aux_lp = aux_logits.float().log_softmax(-1).transpose(0, 1)
                total = loss + aux_weight * ctc(aux_lp, batch["targets"], frames, batch["target_lengths"])
            opt.zero_grad(set_to_none=True)
            total.backward()
            nn.utils.clip_grad_norm_(model.parameters(), r.clip)
            opt.step()
            sched.step()
            step += 1
            losses.append(loss.item())
            lines += len(batch["widths"])
            synth_lines += batch["n_synth"]
            now, cpu_now = clock_now(), time.process_time()
            elapsed, cpu_s, t_clock, t_cpu = elapsed + now - t_clock, cpu_s + cpu_now - t_cpu, now, cpu_now
            clock["elapsed"] = elapsed
            done = step == stop or (r.minutes and elapsed >= 60 * r.minutes)
            row = None
            if step % r.log_every == 0:
                now = time.time()
                row = {"step": step, "time_s": round(elapsed, 1), "cpu_s": round(cpu_s, 1), "lr": f"{sched.get_last_lr()[0]:.2e}",
                       "loss": round(float(np.mean(losses)), 4), "lines_per_s": round(lines / (now - t_log), 1),
                       "synth_share": round(synth_lines / max(1, lines), 2)}
                losses, lines, synth_lines, t_log = [], 0, 0, now
            if subset and (step % r.eval_every == 0 or done):
                scores = evaluate(model, codec, dev, subset)
                row = {**(row or {"step": step, "time_s": round(elapsed, 1), "cpu_s": round(cpu_s, 1)}),
                       **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()}}
                if scores["dev_cer"] < best_cer:
                    best_cer = scores["dev_cer"]
                    save_weights(out / "best.pt", model, codec, {"step": step, "dev_cer": best_cer,
                                                                 "dev_subset_lines": len(subset),
                                                                 "train_seconds": round(elapsed)}, half=False)
                t_log, t_clock, t_cpu = time.time(), clock_now(), time.process_time()  # evaluation time does not count
            if row:
                log.writerow(row)
                log_file.flush()
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                if "dev_cer" in row:
                    plot_curves(log_path, out / "curve.png")
            if time.time() - t_ckpt > r.ckpt_minutes * 60 or done or stopping:
                save_checkpoint(last, state())
                t_ckpt = time.time()
            if stopping:
                print(f"stopped by signal at step {step}; checkpoint in {last}", flush=True)
                break
            if done:
                break
        save_checkpoint(last, state())
        log_file.close()
        best = out / "best.pt"
        if best.exists():
            export(str(best), str(out / "weights.pt"))
        else:
            save_weights(out / "weights.pt", model, codec, {"step": step, "train_seconds": round(elapsed)})
        print(f"done at step {step}; best dev CER {best_cer:.4f}; weights: {out / 'weights.pt'} "
              f"(htr page --rec-weights, htr eval lines --weights)", flush=True)
        return 0
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def main(argv=None) -> int:
    parser = configure_parser(argparse.ArgumentParser(prog="python -m htr.train.rec", description=__doc__.split("\n\n")[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
