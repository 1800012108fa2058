"""Training samples for the detector: real pages (lines only) and synthetic pages (lines and words), cropped
at the inference scale with geometric and photometric augmentation, with DB targets per kind.

Real pages come from ``$HTR_SHARED/data/{hooker,testaments}/train`` or a compiled corpus (never the dev
splits; ``htr.data.pages`` finds them); synthetic pages from a folder written by ``htr synth pages`` or live
from ``htr.synth.render_page``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import shapely

from htr.data.pages import load_page
from htr.detection.model import KINDS, normalize
from htr.document import Page
from htr.train.det_targets import make_targets


def kind_polygons(page: Page) -> tuple[dict[str, list[np.ndarray]], dict[str, bool]]:
    """Polygons per kind, and whether the page has ground truth of that kind (words: every line with text
    has words, or the page has no line)."""
    lines = [ln for ln in page.lines if len(ln.polygon) >= 3]
    words = [w.polygon for w in page.words() if len(w.polygon) >= 3]
    has_words = bool(words) and all(ln.words for ln in page.lines if ln.text.strip())
    has_words = has_words or not page.lines  # a page without lines (blank paper) has no words either
    return {"line": [ln.polygon for ln in lines], "word": words}, {"line": True, "word": has_words}


@dataclass
class AugmentConfig:
    crop: int = 512  # square training crop, input pixels
    long_side: int = 1024  # the page's long side at inference
    scale: tuple[float, float] = (0.65, 1.5)  # jitter of that long side (v1 trained with 0.75-1.3)
    rotate: float = 10.0  # degrees, either way
    rotate_p: float = 0.7
    perspective: float = 0.04  # corner jitter, fraction of the page size
    perspective_p: float = 0.4
    text_centred_p: float = 0.8  # crops centred on a random line, else anywhere on the page
    colour: bool = True


def page_transform(rng, w: int, h: int, aug: AugmentConfig) -> np.ndarray:
    """A random 3x3 homography of a (w x h) page: perspective jitter of its corners, then a rotation about
    its centre."""
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src.copy()
    if rng.random() < aug.perspective_p:
        dst += rng.uniform(-aug.perspective, aug.perspective, (4, 2)).astype(np.float32) * (w, h)
    m = cv2.getPerspectiveTransform(src, dst).astype(np.float64)
    if rng.random() < aug.rotate_p:
        r = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-aug.rotate, aug.rotate)), 1.0)
        m = np.vstack([r, [0, 0, 1]]) @ m
    return m


def transform_polygons(polys: list[np.ndarray], m: np.ndarray) -> list[np.ndarray]:
    return [cv2.perspectiveTransform(np.asarray(p, np.float64).reshape(-1, 1, 2), m).reshape(-1, 2) for p in polys]


def clip_to(polys: list[np.ndarray], size: int) -> list[np.ndarray]:
    """The parts of polygons inside the (size x size) crop."""
    frame = shapely.box(0, 0, size, size)
    out = []
    for p in polys:
        geom = shapely.Polygon(p)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        if not geom.intersects(frame):
            continue
        if shapely.within(geom, frame):
            out.append(p)
            continue
        for part in shapely.get_parts(shapely.get_parts(geom.intersection(frame))):
            if part.geom_type == "Polygon" and part.area > 1:
                out.append(np.asarray(part.exterior.coords[:-1]))
    return out


def colour_jitter(rng, img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float32)
    x = x * rng.uniform(0.7, 1.2) + rng.uniform(-30, 30)  # contrast, brightness
    x = x * rng.uniform(0.9, 1.1, 3)  # colour cast
    if rng.random() < 0.2:
        x = np.repeat(x.mean(2, keepdims=True), 3, 2)
    x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)  # gamma
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.4, 1.3))
    if rng.random() < 0.2:
        x = x + rng.normal(0, rng.uniform(2, 10), x.shape)
    x = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 80))])
        x = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else x
    return x


def make_sample(rng, image: np.ndarray, page: Page, aug: AugmentConfig, shrink: dict[str, float],
                out_stride: int = 2, band: dict[str, bool] | None = None) -> dict[str, np.ndarray]:
    """One augmented crop of a page with its targets: 'image' (3, S, S), 'gt', 'mask', 'thresh',
    'thresh_mask' (kinds, S / out_stride, S / out_stride) and 'has' (kinds,)."""
    polys, has = kind_polygons(page)
    h0, w0 = image.shape[:2]
    s = aug.long_side / max(h0, w0) * rng.uniform(*aug.scale)
    small = cv2.resize(image, (max(1, round(w0 * s)), max(1, round(h0 * s))), interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    sx, sy = w / w0, h / h0
    m = page_transform(rng, w, h, aug)
    lines = transform_polygons([p * (sx, sy) for p in polys["line"]], m)
    if lines and rng.random() < aug.text_centred_p:
        cx, cy = lines[int(rng.integers(len(lines)))].mean(0) + rng.normal(0, aug.crop / 6, 2)
    else:
        corners = cv2.perspectiveTransform(np.float64([[[0, 0]], [[w, 0]], [[w, h]], [[0, h]]]), m).reshape(-1, 2)
        (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
        cx, cy = rng.uniform(x0, max(x0, x1)), rng.uniform(y0, max(y0, y1))
    shift = np.array([[1, 0, aug.crop / 2 - cx], [0, 1, aug.crop / 2 - cy], [0, 0, 1]])
    m = shift @ m
    border = tuple(int(v) for v in rng.integers(0, 256) * np.ones(3))
    crop = cv2.warpPerspective(small, m, (aug.crop, aug.crop), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    if aug.colour:
        crop = colour_jitter(rng, crop)
    size = aug.crop // out_stride
    band = band or {"line": True, "word": False}
    maps = {key: [] for key in ("gt", "mask", "thresh", "thresh_mask")}
    for kind in KINDS:
        kind_polys = clip_to(transform_polygons([p * (sx, sy) for p in polys[kind]], m), aug.crop) if has[kind] else []
        t = make_targets(kind_polys, (size, size), scale=1.0 / out_stride, shrink_ratio=shrink[kind],
                         band=band.get(kind, False))
        for key in maps:
            maps[key].append(getattr(t, key))
    sample = {key: np.stack(v) for key, v in maps.items()}
    sample["image"] = normalize(crop)
    sample["has"] = np.array([has[k] for k in KINDS], np.float32)
    return sample


@dataclass
class DetDataset:
    """Samples from real page files and synthetic pages, reproducible from (seed, epoch, i).

    A sample is synthetic with probability ``synth_share``: one of ``synth_files`` (written by
    ``htr synth pages``), or where there are none, a page rendered live by ``htr.synth.render_page``.
    """

    files: list[tuple[Path, Path]]
    aug: AugmentConfig = field(default_factory=AugmentConfig)
    shrink: dict[str, float] = field(default_factory=lambda: {"line": 0.6, "word": 0.6})
    out_stride: int = 2
    synth_share: float = 0.0
    synth_files: list[tuple[Path, Path]] = field(default_factory=list)
    length: int = 1000
    seed: int = 0
    epoch: int = 0
    file_weights: list[float] | None = None  # sampling weight per real file (None: uniform)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if not self.files or rng.random() < self.synth_share:
            if self.synth_files:
                image, page = load_page(*self.synth_files[int(rng.integers(len(self.synth_files)))])
            else:
                from htr.synth.pages import render_page
                image, page = render_page(rng)
        else:
            if self.file_weights is None:
                k = int(rng.integers(len(self.files)))
            else:
                p = np.asarray(self.file_weights, float)
                k = int(rng.choice(len(self.files), p=p / p.sum()))
            image, page = load_page(*self.files[k], at_least=math.ceil(self.aug.long_side * self.aug.scale[1]))
        return make_sample(rng, image, page, self.aug, self.shrink, self.out_stride)
