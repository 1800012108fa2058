"""Page-level degradations: paper texture and rulings, stains and punch holes, bleed-through, lighting and
shadows, rotation and perspective (with the ground truth moved along), blur, scanner noise, JPEG artefacts and
low resolution.

Everything works on whole pages with cv2/numpy; random fields are drawn small and resized up.
"""
from __future__ import annotations

import cv2
import numpy as np

from htr.document import Page


def smooth_field(rng, h: int, w: int, cells: int, amp: float) -> np.ndarray:
    """A smooth random (h, w) float32 field of about the given amplitude, cells across its longer side."""
    gh = max(2, int(cells * h / max(h, w)))
    gw = max(2, int(cells * w / max(h, w)))
    small = rng.normal(0, amp, (gh, gw)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def paper_texture(rng, image: np.ndarray) -> None:
    """Blotches and fibre grain on the paper (in place, float32 RGB)."""
    h, w = image.shape[:2]
    field = smooth_field(rng, h, w, int(rng.integers(4, 12)), rng.uniform(1, 5))
    grain = rng.standard_normal((h // 3, w // 3), dtype=np.float32) * np.float32(rng.uniform(1, 4))
    field += cv2.resize(grain, (w, h), interpolation=cv2.INTER_LINEAR)
    image += field[..., None]


def rulings(canvas, rng, pitch: float, top: float, squared: bool, margin_x: float | None) -> None:
    """Ruled (or squared) paper: faint blue lines every pitch from top, an optional red margin line."""
    colour = np.array([150, 175, 215], np.float32) + rng.normal(0, 10, 3).astype(np.float32)
    step = pitch / 2 if squared else pitch
    y = top - step * int(top // step)
    while y < canvas.height:
        canvas.rule((0, y), (canvas.width, y), colour, 1)
        y += step
    if squared:
        x = step * rng.uniform(0, 1)
        while x < canvas.width:
            canvas.rule((x, 0), (x, canvas.height), colour, 1)
            x += step
    if margin_x is not None:
        canvas.rule((margin_x, 0), (margin_x, canvas.height), (210, 90, 90), 2)


def stains(rng, image: np.ndarray, count: int | None = None) -> None:
    """Water and foxing stains: irregular brownish blotches with a darker tide line at their rim (in place,
    float32 RGB)."""
    h, w = image.shape[:2]
    for _ in range(int(rng.integers(1, 5)) if count is None else count):
        size = int(rng.uniform(0.05, 0.3) * max(h, w))
        x0, y0 = int(rng.integers(-size // 2, w - size // 2)), int(rng.integers(-size // 2, h - size // 2))
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
        shape = 0.5 - np.hypot(xx, yy) + smooth_field(rng, size, size, 5, 0.08)  # > 0 inside the blotch
        inside = np.clip(shape * rng.uniform(8, 25), 0, 1)
        rim = np.exp(-(shape / rng.uniform(0.006, 0.02)) ** 2) * (shape > -0.01)
        darkness = inside * rng.uniform(0.03, 0.15) + rim * rng.uniform(0.03, 0.12)
        tint = np.array([1.0, rng.uniform(1.1, 1.5), rng.uniform(1.6, 2.6)], np.float32)  # more loss in blue
        ys, xs = slice(max(0, y0), min(h, y0 + size)), slice(max(0, x0), min(w, x0 + size))
        part = darkness[ys.start - y0: ys.stop - y0, xs.start - x0: xs.stop - x0]
        image[ys, xs] *= 1 - np.clip(part[..., None] * tint, 0, 0.6)


def punch_holes(rng, image: np.ndarray, background: float | None = None) -> None:
    """Two or four filing holes near one edge, showing the scanner's background (in place)."""
    h, w = image.shape[:2]
    radius = rng.uniform(0.011, 0.017) * max(h, w)
    margin = rng.uniform(0.02, 0.05) * w + radius
    grey = float(rng.uniform(15, 90) if background is None else background)
    count = 2 if rng.random() < 0.7 else 4
    left = rng.random() < 0.75
    centre, gap = h / 2, rng.uniform(0.2, 0.3) * h if count == 2 else rng.uniform(0.15, 0.2) * h
    for k in range(count):
        y = centre + (k - (count - 1) / 2) * gap
        x = margin if left else w - margin
        cv2.circle(image, (int(x * 4), int(y * 4)), int(radius * 4), (grey, grey, grey), -1, cv2.LINE_AA, shift=2)


def bleed_through(rng, image: np.ndarray, ink: np.ndarray) -> None:
    """Faint mirrored, blurred ink of the reverse side (the page's own ink flipped and shifted)."""
    h, w = ink.shape
    small = cv2.resize(ink, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    small = np.roll(small[:, ::-1], (int(rng.integers(-40, 40)), int(rng.integers(-30, 30))), (0, 1))
    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(0.6, 1.5))
    back = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    image *= (1 - back * (rng.uniform(0.08, 0.25) / 255))[..., None]


def lighting(rng, image: np.ndarray) -> None:
    """A smooth illumination gradient and, sometimes, a soft shadow from one edge (in place)."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h // 8, 0:w // 8].astype(np.float32) / (max(h, w) // 8)
    gx, gy = rng.normal(0, 0.06, 2)
    gain = 1 + gx * (xx - 0.5) + gy * (yy - 0.5)
    gain += smooth_field(rng, h // 8, w // 8, 2, rng.uniform(0.005, 0.02))
    if rng.random() < 0.3:
        side = int(rng.integers(4))
        dist = [xx, yy, xx.max() - xx, yy.max() - yy][side]
        width = rng.uniform(0.05, 0.25)
        gain *= 1 - rng.uniform(0.2, 0.5) * np.clip(1 - dist / width, 0, 1) ** 2
    image *= cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]


def geometric(rng, image: np.ndarray, max_angle: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Rotate (up to +-max_angle degrees) and tilt the page in perspective, scaled to stay in the frame
    over a scanner-lid background; returns the image and the 3x3 map applied."""
    h, w = image.shape[:2]
    angle = rng.normal(0, max_angle / 3) if rng.random() < 0.6 else 0.0
    angle = float(np.clip(angle, -max_angle, max_angle))
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = src.copy()
    if rng.random() < 0.35:
        dst += rng.uniform(-0.04, 0.04, (4, 2)).astype(np.float32) * (w, h)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    dst = dst @ rot[:, :2].T + rot[:, 2]
    lo, hi = dst.min(0), dst.max(0)
    scale = min(1.0, w / (hi[0] - lo[0]), h / (hi[1] - lo[1])) * (rng.uniform(0.94, 1.0) if angle else 1.0)
    dst = (dst - (lo + hi) / 2) * scale + (w / 2, h / 2)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    if np.allclose(m, np.eye(3), atol=1e-6):
        return image, np.eye(3)
    border = tuple(float(v) for v in rng.uniform(20, 90) + rng.normal(0, 5, 3))
    out = cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=border)
    return out, m


def transform_page(page: Page, m: np.ndarray, width: int, height: int) -> None:
    """Map every polygon and baseline of the page by the 3x3 matrix m (in place) and set its size."""
    def move(points):
        if points is None or len(points) == 0:
            return points
        return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), m).reshape(-1, 2) \
            .astype(np.float32)

    for block in page.blocks:
        block.polygon = move(block.polygon)
        for line in block.lines:
            line.polygon = move(line.polygon)
            line.baseline = move(line.baseline)
            for word in line.words:
                word.polygon = move(word.polygon)
    page.width, page.height = width, height


def scanner(rng, image: np.ndarray) -> np.ndarray:
    """Blur, noise, low resolution and JPEG artefacts on a uint8 RGB page; returns the new image (its size
    may shrink: the caller scales the ground truth by the returned image's size)."""
    if rng.random() < 0.35:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.3))
    if rng.random() < 0.25:  # low resolution scan
        h, w = image.shape[:2]
        f = rng.uniform(0.45, 0.8)
        image = cv2.resize(image, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.6:
        h, w = image.shape[:2]
        noise = rng.standard_normal((h // 2, w // 2), dtype=np.float32) * np.float32(rng.uniform(2, 7))
        noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_NEAREST)
        image = cv2.add(image.astype(np.float32), noise[..., None].repeat(3, 2), dtype=cv2.CV_32F)
        image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 60))])
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return image
