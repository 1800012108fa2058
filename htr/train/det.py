"""`htr train det`: train the DB text detector on real pages (lines) mixed with synthetic pages (lines and words).

Writes to the run folder: last.pt (model, optimiser, step: resumable), det.pt (best weights on the held-out pages, the file
`htr detect --weights` reads), log.csv, curve.png and run.json (the recipe and the best figures).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep: no spinning on a shared CPU

import cv2
import numpy as np
import torch

from htr.data.pages import page_files
from htr.paths import shared_dir
from htr.detection.detector import DEFAULT_POST, DEFAULT_PREPROCESSING, Detector, load_weights, save_weights
from htr.detection.model import DetConfig, build_model, count_parameters
from htr.detection.postprocess import PostConfig, maps_to_detections
from htr.evaluate import DetectionScore, match_polygons
from htr.formats import read_document
from htr.imageio import load_image
from htr.errors import UsageError
from htr.files import atomic_path
from htr.train.det_data import AugmentConfig, DetDataset
from htr.train.det_loss import db_loss
from htr.train.plot import trim_log
from htr.train.recipe import add_config_option, option, read_recipe, recipe_of, write_recipe

TUNE_GRID = {"seed_thresh": (None, 0.6, 0.7), "box_thresh": (0.4, 0.5, 0.6), "unclip_scale": (0.9, 1.0, 1.1, 1.2)}
ARCHS = {"r18half": DetConfig(), "slim": DetConfig(widths=(24, 48, 96, 160), stem=16)}


@dataclasses.dataclass
class DetRecipe:
    """A detector training run's options (``htr train det --help``), saved in its checkpoints and run.json."""

    arch: str = "r18half"
    steps: int = 10000
    batch: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 300
    crop: int = 512
    long_side: int = 1024
    synth_dir: list[str] | None = None
    synth_share: float = 0.5
    real: str = "hooker,testaments"
    data: list[str] | None = None
    val_pages: int = 8
    val_synth: int = 4
    eval_every: int = 500
    save_every: int = 100
    minutes: float = 0.0
    threads: int = 2
    workers: int = 1
    seed: int = 0
    init: str | None = None
    tune: bool = True


def configure_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    def a(*flags, **kwargs):
        option(p, DetRecipe, *flags, **kwargs)

    p.add_argument("--out", default="runs/det/main", help="run folder (default: runs/det/main)")
    add_config_option(p)
    a("--arch", choices=sorted(ARCHS))
    a("--steps", type=int)
    a("--batch", type=int)
    a("--lr", type=float)
    a("--weight-decay", type=float)
    a("--warmup", type=int)
    a("--crop", type=int, help="square training crop, pixels")
    a("--long-side", type=int, help="page long side at inference")
    a("--synth-dir", action="append", help="folder of synthetic pages (jpg + xml); repeatable")
    a("--synth-share", type=float,
      help="share of synthetic samples: from --synth-dir, else rendered live by htr.synth")
    a("--real", help="real training sets under $HTR_SHARED/data, when no --data is given")
    a("--data", action="append", metavar="CORPUS|GT[:WEIGHT]",
      help="real pages, repeatable: the train pages of a compiled corpus (htr data compile) or of a ground-truth "
           "folder (compiled into OUT/corpus); WEIGHT multiplies how often its pages are drawn relative to its size")
    a("--val-pages", type=int, help="train pages per real set held out of training, scored at each evaluation")
    a("--val-synth", type=int, help="held-out synthetic pages scored for words")
    a("--eval-every", type=int)
    a("--save-every", type=int)
    a("--minutes", type=float, help="stop after this much wall time (0: no limit)")
    a("--threads", type=int)
    a("--workers", type=int, help="data loader processes")
    a("--seed", type=int)
    a("--init", help="start from these detector weights (det.pt)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt, with its recipe "
                   "(options given override it)")
    a("--no-tune", dest="tune", action="store_false",
      help="keep the default post-processing thresholds (else tuned on the held-out pages at the end)")
    return p


def _worker_init(_):
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def lr_at(step: int, args) -> float:
    """Linear warm-up, then cosine decay to 5% of the peak."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def split_train(args: DetRecipe, out: Path) -> tuple[list[tuple[Path, Path]], list[float], dict[str, list[tuple[Path, Path]]]]:
    """The real train pages: those trained on (with a sampling weight each), and per source the last --val-pages
    held out for checkpoint selection and threshold tuning (the dev splits stay untouched for reporting)."""
    if args.data:
        from htr.data.corpus import open_pages
        from htr.train.data import resolve_data

        sets = []
        for corpus, only, weight in resolve_data(args.data, out, 40, workers=max(1, args.workers)):
            for name, rows in open_pages(corpus, "train").items():
                if only is None or name in only:
                    sets.append((name, [(Path(r["image"]), Path(r["xml"])) for r in rows], weight))
    else:
        sets = [(name, page_files(shared_dir() / "data" / name / "train"), 1.0)
                for name in args.real.split(",") if name]
    train, weights, val = [], [], {}
    for name, pages, weight in sets:
        cut = len(pages) - args.val_pages
        train += pages[:cut]
        weights += [weight] * len(pages[:cut])
        val[name] = pages[cut:]
    return train, weights, val


def val_sets(args, val_pages) -> dict[str, list[tuple[np.ndarray, list[np.ndarray], str]]]:
    """name -> [(image, ground-truth polygons, kind)]: held-out train pages of each real set (lines) and
    held-out synthetic pages (words; seeds far from any training seed)."""
    sets = {}
    for name, pages in val_pages.items():
        sets[name] = [(load_image(i), [ln.polygon for ln in read_document(x).lines], "line") for i, x in pages]
    if args.val_synth:
        from htr.synth.pages import render_page
        sets["synth_words"] = []
        for i in range(args.val_synth):
            image, page = render_page(np.random.default_rng([99991, i]))
            sets["synth_words"].append((image, [w.polygon for w in page.words()], "word"))
    return sets


def evaluate(model, sets, long_side: int) -> dict[str, float]:
    detector = Detector.from_model(model, {"long_side": long_side})
    out = {}
    for name, pages in sets.items():
        total = DetectionScore()
        for image, gt, kind in pages:
            found = [d.polygon for d in detector.detect(image) if d.kind == kind]
            total += match_polygons(found, gt, 0.5)[0]
        out[f"f1_{name}"] = round(total.f1, 4)
    return out


def tune_post(model, sets, long_side: int) -> tuple[dict[str, PostConfig], dict]:
    """Post-processing per kind that maximises F1 on the held-out pages over TUNE_GRID (maps computed once)."""
    detector = Detector.from_model(model, {"long_side": long_side})
    maps: dict[str, list] = {}
    for pages in sets.values():
        for image, gt, kind in pages:
            prob, scale = detector.maps(image)
            maps.setdefault(kind, []).append((prob[model.cfg.kinds.index(kind)], scale, image.shape[1::-1], gt))
    post, report = dict(DEFAULT_POST), {}
    for kind, items in maps.items():
        best_f1, best = -1.0, post[kind]
        for values in itertools.product(*TUNE_GRID.values()):
            cfg = dataclasses.replace(post[kind], **dict(zip(TUNE_GRID, values)))
            total = DetectionScore()
            for prob, scale, size, gt in items:
                found = maps_to_detections(prob[None], scale, size, (kind,), {kind: cfg})
                total += match_polygons([d.polygon for d in found], gt, 0.5)[0]
            if total.f1 > best_f1:
                best_f1, best = total.f1, cfg
        post[kind] = best
        report[kind] = {"f1": round(best_f1, 4), **{k: getattr(best, k) for k in TUNE_GRID}}
    return post, report


def plot_curve(log: Path, png: Path) -> None:
    """Loss (log scale) and held-out F1 against step, drawn with OpenCV."""
    rows = list(csv.DictReader(open(log)))
    w, h, pad = 900, 280, 50
    panels = []
    for keys, log_y in ((["loss"], True), ([k for k in (rows[0] if rows else {}) if k.startswith("f1_")], False)):
        img = np.full((h, w, 3), 255, np.uint8)
        cv2.rectangle(img, (pad, 20), (w - 20, h - 30), (180, 180, 180), 1)
        series = {k: [(float(r["step"]), float(r[k])) for r in rows if r.get(k)] for k in keys}
        if log_y and len(series["loss"]) > 1:  # batches with and without word ground truth differ: smooth
            steps, values = np.array(series["loss"]).T
            n = min(25, len(values))
            smooth = np.convolve(values, np.ones(n) / n, mode="valid")
            series["loss, mean of 25"] = list(zip(steps[n - 1:], smooth))
        pts = [p for s in series.values() for p in s]
        if pts:
            xs, ys = np.array(pts).T
            ys = np.log10(np.maximum(ys, 1e-4)) if log_y else ys
            x1, y0, y1 = max(xs.max(), 1), ys.min(), max(ys.max(), ys.min() + 1e-3)
            for i, (k, s) in enumerate(series.items()):
                colour = [(200, 80, 0), (0, 140, 0), (160, 0, 160), (0, 0, 200)][i % 4]
                a = np.array(s)
                if not len(a):
                    continue
                v = np.log10(np.maximum(a[:, 1], 1e-4)) if log_y else a[:, 1]
                p = np.stack([pad + a[:, 0] / x1 * (w - pad - 20), h - 30 - (v - y0) / (y1 - y0) * (h - 50)], 1)
                cv2.polylines(img, [p.astype(np.int32)], False, colour, 1, cv2.LINE_AA)
                for x, y in p.astype(np.int32) if len(p) < 60 else ():
                    cv2.circle(img, (int(x), int(y)), 3, colour, -1, cv2.LINE_AA)
                cv2.putText(img, k, (w - 220, 40 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
            for y, label in ((20, y1), (h - 30, y0)):
                text = f"{10 ** label:.3g}" if log_y else f"{label:.3g}"
                cv2.putText(img, text, (2, y + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
            cv2.putText(img, f"step {x1:.0f}", (w - 110, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1)
        cv2.putText(img, "loss (log)" if log_y else "held-out F1 @ IoU 0.5", (pad, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
        panels.append(img)
    cv2.imwrite(str(png), np.concatenate(panels))


def run(cli: argparse.Namespace) -> int:
    out = Path(cli.out)
    resuming = cli.resume and (out / "last.pt").exists()
    state = torch.load(out / "last.pt", map_location="cpu", weights_only=True) if resuming else None
    try:
        args = recipe_of(DetRecipe, cli, state.get("recipe") if state else None)
    except UsageError as err:
        print(f"htr: error: {err}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out.mkdir(parents=True, exist_ok=True)
    cfg = ARCHS[args.arch]
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    step, best = 0, -1.0
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, best = state["step"], state["best"]
        print(f"resumed {out / 'last.pt'} at step {step}", file=sys.stderr)
    elif args.init:
        model.load_state_dict(load_weights(args.init)[0].state_dict())
    files, file_weights, val_pages = split_train(args, out)
    synth_files = [pair for folder in args.synth_dir or [] for pair in page_files(folder)]
    aug = AugmentConfig(crop=args.crop, long_side=args.long_side)
    shrink = {k: DEFAULT_POST[k].shrink_ratio for k in cfg.kinds}
    data = DetDataset(files, aug, shrink, cfg.out_stride, args.synth_share, synth_files, args.steps * args.batch,
                      args.seed, file_weights=file_weights if len(set(file_weights)) > 1 else None)
    workers = {"num_workers": args.workers}
    if args.workers:  # spawned, not forked: a fork of a process whose cv2/OpenMP pools ran can deadlock
        workers.update(persistent_workers=True, worker_init_fn=_worker_init, multiprocessing_context="spawn",
                       prefetch_factor=4)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, sampler=range(step * args.batch, len(data)),
                                         **workers)
    sets = val_sets(args, val_pages)
    write_recipe(out / "recipe.toml", args, f"The options of the run in {out} (htr train det --config reads them).")
    recipe = {"out": str(out), **dataclasses.asdict(args)}
    recipe.update(config=cfg.to_dict(), params=count_parameters(model), real_pages=len(files),
                  synth_pages=len(synth_files) or "live")
    print(f"{count_parameters(model) / 1e6:.2f}M parameters, {len(files)} real pages, synthetic share "
          f"{args.synth_share} from {len(synth_files) or 'live rendering'}, steps {step}..{args.steps}",
          file=sys.stderr)
    log_path = out / "log.csv"
    fields = ["step", "lr", "loss", "bce0", "dice0", "l1_0", "bce1", "dice1", "l1_1", "sec"] + [
        f"f1_{n}" for n in sets]
    if not (resuming and log_path.exists()):
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(fields)
    else:
        trim_log(log_path, step)
    started, tick, running = time.time(), time.time(), []
    model.train()

    def save():
        with atomic_path(out / "last.pt") as tmp:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "best": best,
                        "config": cfg.to_dict(), "recipe": dataclasses.asdict(args)}, tmp)
        plot_curve(log_path, out / "curve.png")

    def val_eval() -> dict[str, float]:
        nonlocal best
        model.eval()
        scores = evaluate(model, sets, args.long_side)
        model.train()
        line_f1 = float(np.mean([v for k, v in scores.items() if k != "f1_synth_words"] or [0.0]))
        if line_f1 > best:
            best = line_f1
            save_weights(out / "det.pt", model, {**DEFAULT_PREPROCESSING, "long_side": args.long_side},
                         DEFAULT_POST, {"step": step, "scores": scores, "recipe": recipe})
        print(f"step {step} held-out {scores} (best line F1 {best:.4f})", file=sys.stderr)
        return scores

    for batch in loader:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args)
        outputs = model(batch["image"])
        loss, parts = db_loss(outputs, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        running.append(loss.item())
        row = {"step": step, "lr": f"{lr_at(step - 1, args):.3g}", "loss": f"{loss.item():.4f}",
               **{k: f"{v:.4f}" for k, v in parts.items()}, "sec": f"{time.time() - tick:.2f}"}
        tick = time.time()
        out_of_time = bool(args.minutes) and time.time() - started > args.minutes * 60
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            row.update(val_eval())
        with open(log_path, "a", newline="") as f:
            csv.DictWriter(f, fields, extrasaction="ignore").writerow(row)
        if step % 10 == 0:
            print(f"step {step} loss {np.mean(running[-10:]):.4f} {row['sec']} s/step", file=sys.stderr)
        if step % args.save_every == 0:
            save()
        if out_of_time:
            print(f"time limit reached at step {step}", file=sys.stderr)
            break
    save()
    summary = {**recipe, "step": step, "best_line_f1": best}
    if args.tune and (out / "det.pt").exists():
        model, pre, _, meta = load_weights(out / "det.pt")
        post, summary["tuned_post"] = tune_post(model, sets, args.long_side)
        save_weights(out / "det.pt", model, pre, post, {**meta, "tuned_post": summary["tuned_post"]})
        print(f"post-processing tuned on the held-out pages: {summary['tuned_post']}", file=sys.stderr)
    (out / "run.json").write_text(json.dumps(summary, indent=1))
    if (out / "det.pt").exists():
        scores = load_weights(out / "det.pt")[3].get("scores", {})
        (out / "MODEL_CARD_det.md").write_text(model_card(summary, scores))
    return 0


def model_card(summary: dict, scores: dict) -> str:
    """A markdown section for htr/weights/MODEL_CARD.md: data, recipe and figures of a run."""
    cfg = summary["config"]
    lines = [
        "## Text detector (det.pt)",
        "",
        f"DBNet: ResNet-18-like backbone (widths {cfg['widths']}, blocks {cfg['blocks']}), FPN ({cfg['fpn']}), "
        f"DB head for lines and words at 1/{cfg['out_stride']} of the input; "
        f"{summary['params'] / 1e6:.2f}M parameters. "
        f"Input: page long side {summary['long_side']} px.",
        "",
        "**Data**: real pages (line polygons only), the train split of " + (
            ", ".join(summary["data"]) if summary.get("data") else ", ".join(
                f"{n}/train" for n in summary["real"].split(","))) + f" ({summary['real_pages']} pages); "
        f"synthetic pages from htr.synth ({summary['synth_pages']}, share {summary['synth_share']}), which "
        "alone teach the word channel.",
        "",
        f"**Recipe**: {summary['step']} steps of batch {summary['batch']} ({summary['crop']} px crops, page long "
        f"side jittered x0.75-1.3, rotation +-10 deg, perspective, colour, blur, noise, JPEG), AdamW lr "
        f"{summary['lr']} (warm-up {summary['warmup']}, cosine), weight decay {summary['weight_decay']}; DB loss "
        "(balanced BCE with 3:1 hard negatives + dice + 10 x L1), shrink ratio 0.6 for both kinds, lines as "
        "constant-thickness bands.",
        "",
        "**Figures** (F1 at IoU 0.5, one-to-one matching, on the train pages held out for checkpoint selection): "
        + ", ".join(f"{k[3:]} {v:.3f}" for k, v in scores.items()),
    ]
    if summary.get("tuned_post"):
        lines += ["", f"Post-processing tuned on the same held-out pages: {summary['tuned_post']}"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = configure_parser(argparse.ArgumentParser(prog="htr train det", description=__doc__.splitlines()[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
