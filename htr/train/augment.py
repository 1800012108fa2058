"""Augmenting grey line crops at model height: warps, width scaling, blur, noise, contrast, stroke width.

Every function takes a numpy Generator and a (H, W) uint8 crop (dark ink on light paper) and returns a
new one of the same height; ``augment`` chains them with probabilities tuned for 40-pixel lines.
"""
from __future__ import annotations

import cv2
import numpy as np


def paper_of(img: np.ndarray) -> int:
    """The paper grey: a high percentile of the crop."""
    return int(np.percentile(img, 80)) if img.size else 255


def scale_width(rng, img, low=0.8, high=1.25):
    h, w = img.shape
    nw = max(8, int(round(w * rng.uniform(low, high))))
    return cv2.resize(img, (nw, h), interpolation=cv2.INTER_AREA if nw < w else cv2.INTER_LINEAR)


def affine(rng, img, shear=0.35, rotate=1.5, vscale=(0.8, 1.05), shift=2.0):
    """Slant (horizontal shear), small rotation, vertical scale and shift; the border is paper."""
    h, w = img.shape
    paper = paper_of(img)
    s = rng.uniform(-shear, shear)
    a = np.deg2rad(rng.uniform(-rotate, rotate))
    k = rng.uniform(*vscale)
    cx, cy = w / 2, h / 2
    m = np.array([[np.cos(a), -np.sin(a) + s, 0], [np.sin(a), np.cos(a) * k, 0]], np.float32)
    m[:, 2] = [cx, cy + rng.uniform(-shift, shift)] - m[:, :2] @ [cx, cy]
    pad = int(abs(s) * h / 2) + 1  # room for the sheared ends
    m[0, 2] += pad
    return cv2.warpAffine(img, m, (w + 2 * pad, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=paper)


def elastic(rng, img, amplitude=1.5, cell=12):
    """Smooth random displacement: a coarse random field, upsampled."""
    h, w = img.shape
    gh, gw = max(2, h // cell + 2), max(2, w // cell + 2)
    dx = cv2.resize(rng.normal(0, amplitude, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.normal(0, amplitude, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def stroke(rng, img):
    """Thicker (erode: dark grows) or thinner (dilate) strokes, by a 2x1, 1x2 or 2x2 kernel."""
    k = np.ones([(2, 1), (1, 2), (2, 2)][int(rng.integers(3))], np.uint8)
    return cv2.erode(img, k) if rng.random() < 0.6 else cv2.dilate(img, k)


def blur(rng, img):
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.1))


def tone(rng, img):
    """Contrast, brightness and gamma."""
    x = img.astype(np.float32) / 255
    x = np.clip(x ** rng.uniform(0.6, 1.6), 0, 1)
    lo, hi = rng.uniform(0, 0.35), rng.uniform(0.75, 1.0)
    return np.clip((lo + x * (hi - lo)) * 255, 0, 255).astype(np.uint8)


def noise(rng, img):
    n = rng.normal(0, rng.uniform(3, 14), img.shape)
    return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)


def hpad(rng, img, most=10):
    """Random paper margins left and right."""
    paper = paper_of(img)
    return cv2.copyMakeBorder(img, 0, 0, int(rng.integers(0, most)), int(rng.integers(0, most)),
                              cv2.BORDER_CONSTANT, value=paper)


def augment(rng, img: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """A random chain of the augmentations above (each applied with probability ~ ``strength``)."""
    p = lambda q: rng.random() < q * strength  # noqa: E731
    if p(0.5):
        img = scale_width(rng, img)
    if p(0.6):
        img = affine(rng, img)
    if p(0.3):
        img = elastic(rng, img)
    if p(0.25):
        img = stroke(rng, img)
    if p(0.3):
        img = blur(rng, img)
    if p(0.5):
        img = tone(rng, img)
    if p(0.4):
        img = noise(rng, img)
    return hpad(rng, img)
