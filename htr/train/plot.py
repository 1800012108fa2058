"""Training curves as a PNG drawn with OpenCV (no matplotlib): loss and dev CER against step."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def read_log(path: Path) -> dict[str, list[tuple[float, float]]]:
    """(step, value) series per column of a training log.csv, empty cells skipped."""
    series: dict[str, list[tuple[float, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for key, value in row.items():
                if key != "step" and value not in ("", None):
                    try:
                        series.setdefault(key, []).append((float(row["step"]), float(value)))
                    except ValueError:
                        pass
    return series


def trim_log(path: Path, step: int) -> None:
    """Drop the rows logged after `step`: a run resumed from an older checkpoint writes them again."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f)) or [[]]
    kept = [row for row in rows if row and float(row[0]) <= step]
    if len(kept) < len(rows):
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([header] + kept)


def _panel(series: list[tuple[str, list, tuple]], title: str, size=(900, 300), log_y=False,
           y_min: float | None = None) -> np.ndarray:
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 30, 35
    pts_all = [p for _, pts, _ in series for p in pts]
    cv2.putText(img, title, (left, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    if not pts_all:
        return img
    xs = np.array([p[0] for p in pts_all])
    ys = np.array([p[1] for p in pts_all])
    f = (lambda v: np.log10(np.maximum(v, 1e-4))) if log_y else (lambda v: np.asarray(v, float))  # noqa: E731
    x0, x1 = 0.0, max(xs.max(), 1.0)
    y0, y1 = float(f(ys).min()), float(f(ys).max())
    if y_min is not None:
        y0 = y_min
    if y1 - y0 < 1e-6:
        y1 = y0 + 1.0
    px = lambda x: int(left + (x - x0) / (x1 - x0) * (w - left - right))  # noqa: E731
    py = lambda y: int(h - bottom - (f(y) - y0) / (y1 - y0) * (h - top - bottom))  # noqa: E731
    cv2.rectangle(img, (left, top), (w - right, h - bottom), (180, 180, 180), 1)
    for k in range(5):
        yv = y0 + (y1 - y0) * k / 4
        label = f"{10 ** yv:.3g}" if log_y else f"{yv:.3g}"
        y = int(h - bottom - k / 4 * (h - top - bottom))
        cv2.putText(img, label, (5, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
        xv = x0 + (x1 - x0) * k / 4
        cv2.putText(img, f"{xv:.0f}", (px(xv) - 10, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1,
                    cv2.LINE_AA)
    for i, (name, pts, colour) in enumerate(series):
        if not pts:
            continue
        poly = np.array([[px(x), py(y)] for x, y in pts], np.int32)
        cv2.polylines(img, [poly], False, colour, 2 if len(pts) < 200 else 1, cv2.LINE_AA)
        if len(pts) < 100:
            for p in poly:
                cv2.circle(img, tuple(int(v) for v in p), 3, colour, -1, cv2.LINE_AA)
        cv2.putText(img, name, (w - right - 200, top + 18 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1,
                    cv2.LINE_AA)
    return img


def plot_curves(log_path: Path, png_path: Path) -> None:
    """Loss (log scale) and dev CER panels, stacked, written to ``png_path``."""
    s = read_log(Path(log_path))
    loss = _panel([("train loss", s.get("loss", []), (200, 80, 0))], "CTC loss (log scale) vs step", log_y=True)
    palette = [(0, 140, 0), (160, 0, 160), (0, 120, 200), (200, 120, 0), (120, 120, 120), (0, 160, 160)]
    per_source = sorted(k for k in s if k.startswith("dev_cer_"))
    cer = _panel([("dev CER", s.get("dev_cer", []), (0, 0, 200))] +
                 [(k[len("dev_cer_"):], s[k], palette[i % len(palette)]) for i, k in enumerate(per_source)],
                 "dev CER vs step", y_min=0.0)
    cv2.imwrite(str(png_path), np.concatenate([loss, cer]))


def plot_runs(logs: dict[str, Path], png_path: Path, x: str = "cpu_s", per: float = 60.0) -> None:
    """Dev CER of several runs against one log column (default: CPU minutes), one panel, written to ``png_path``."""
    palette = [(0, 0, 200), (0, 140, 0), (160, 0, 160), (200, 120, 0), (0, 160, 160), (120, 120, 120)]
    series = []
    for i, (name, path) in enumerate(logs.items()):
        with open(path, newline="") as f:
            pts = [(float(r[x]) / per, float(r["dev_cer"])) for r in csv.DictReader(f) if r.get("dev_cer")
                   and r.get(x)]
        series.append((name, pts, palette[i % len(palette)]))
    unit = "CPU minutes" if x == "cpu_s" and per == 60 else x
    cv2.imwrite(str(png_path), _panel(series, f"dev CER (subset, greedy) vs {unit}", size=(900, 420), y_min=0.0))
