"""Fonts for synthesis: the pinned manifest, fetching with `npm pack`, integrity and charset checks, cache.

The manifest (fonts_manifest.json beside this file) pins each @fontsource package by version and npm
integrity hash. `fetch_fonts` packs the tarballs, checks their sha512 against the pins, keeps one regular
latin WOFF file per family under the cache (``$HTR_CACHE/fonts`` or ``~/.cache/htr/fonts``) and records in
``index.json`` which characters of CHARSET each font draws. Fonts missing any REQUIRED character are dropped.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from htr.errors import ResourceError
from htr.synth.charset import CHARSET, REQUIRED

MANIFEST = Path(__file__).with_name("fonts_manifest.json")
WEIGHTS = (400, 500, 300, 600, 700, 200, 800, 100, 900)  # preferred order of the file kept
KINDS = ("handwriting", "print")
CHECKS = 2  # version of the font checks; cached fonts checked by an older version are checked again


@dataclass(frozen=True)
class FontInfo:
    family: str
    package: str
    version: str
    kind: str  # "handwriting" | "print"
    path: str  # absolute path of the WOFF file
    charset: str  # the characters of CHARSET it draws


def cache_dir() -> Path:
    root = os.environ.get("HTR_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "htr") / "fonts"


def load_manifest() -> list[dict]:
    return json.loads(MANIFEST.read_text())["fonts"]


def integrity_of(path: Path) -> str:
    """The npm integrity string (sha512, base64) of a file."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def _slug(package: str) -> str:
    return package.split("/")[-1]


def _extract_regular(tarball: Path, dest: Path, slug: str) -> Path | None:
    """Extract the latin WOFF file of the weight nearest 400 (normal style); None if the package has none."""
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        for weight in WEIGHTS:
            name = f"package/files/{slug}-latin-{weight}-normal.woff"
            if name in names:
                dest.mkdir(parents=True, exist_ok=True)
                out = dest / Path(name).name
                out.write_bytes(tar.extractfile(name).read())
                return out
    return None


def covered_chars(path: str | Path, chars: str = CHARSET) -> str:
    """The characters the font draws: a visible glyph that differs from the font's missing-glyph box."""
    font = ImageFont.truetype(str(path), 32)

    def mask(ch: str) -> bytes:
        img = Image.new("L", (96, 64))
        ImageDraw.Draw(img).text((16, 48), ch, font=font, fill=255, anchor="ls")
        return np.asarray(img).tobytes()

    notdef = {mask("\U000f0000"), mask("\uffff")}
    out = []
    for ch in chars:
        if ch == " ":
            out.append(ch)
            continue
        m = mask(ch)
        if m not in notdef and any(m):
            out.append(ch)
    return "".join(out)


def caseless(path: str | Path, threshold: float = 0.65) -> bool:
    """True for small-caps, unicase and all-caps faces: lowercase letters drawn as (scaled) capitals, which
    would make case in the transcription unlearnable. Compares the shapes of a few letter pairs."""
    import cv2

    font = ImageFont.truetype(str(path), 64)

    def shape(ch: str):
        img = Image.new("L", (160, 140))
        ImageDraw.Draw(img).text((30, 110), ch, font=font, fill=255, anchor="ls")
        ys, xs = np.nonzero(np.asarray(img) > 127)
        if len(xs) == 0:
            return None
        crop = (np.asarray(img)[ys.min():ys.max() + 1, xs.min():xs.max() + 1] > 127).astype(np.uint8)
        return cv2.resize(crop, (24, 24), interpolation=cv2.INTER_NEAREST).astype(bool)

    scores = []
    for lower in "abdegqr":
        a, b = shape(lower), shape(lower.upper())
        if a is not None and b is not None:
            scores.append((a & b).sum() / max(1, (a | b).sum()))
    return bool(scores) and float(np.mean(scores)) > threshold


def check_font(path: str | Path) -> tuple[str, str | None]:
    """(characters of CHARSET the font draws, reason to drop it or None)."""
    charset = covered_chars(path)
    reason = drop_reason(charset)
    if reason is None and caseless(path):
        reason = "lowercase drawn as capitals (small caps, unicase or all caps)"
    return charset, reason


def _npm_pack(specs: list[str], dest: Path) -> dict[str, Path]:
    """Run `npm pack` for the specs into dest; {package name: tarball path}."""
    if shutil.which("npm") is None:
        raise ResourceError("npm is needed to fetch fonts (apt-get install npm)")
    proc = subprocess.run(["npm", "pack", "--json", "--pack-destination", str(dest), *specs],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ResourceError(f"npm pack failed: {proc.stderr.strip()[-2000:]}")
    return {item["name"]: dest / item["filename"] for item in json.loads(proc.stdout)}


def read_index(root: Path | None = None) -> dict:
    path = (root or cache_dir()) / "index.json"
    return json.loads(path.read_text()) if path.exists() else {}


def fetch_fonts(names: list[str] | None = None, root: Path | None = None, batch: int = 25,
                progress=None) -> dict:
    """Fetch, verify and index the manifest fonts (all, or those whose package or family is in names).

    Fonts already in the index at the pinned version are not fetched again. Returns the index:
    {package: {family, version, kind, path, charset, dropped}} where dropped is a reason or None.
    """
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    index = read_index(root)
    names = None if names is None else set(names)
    wanted = [f for f in load_manifest()
              if names is None or {f["package"], f["family"], _slug(f["package"])} & names]
    todo = [f for f in wanted if index.get(f["package"], {}).get("version") != f["version"]
            or not (index[f["package"]]["path"] is None or Path(index[f["package"]]["path"]).exists())]
    for f in wanted:  # re-check fonts already extracted when the checks changed
        rec = index.get(f["package"])
        if f not in todo and rec and rec["path"] and rec.get("checks") != CHECKS:
            rec["charset"], rec["dropped"] = check_font(rec["path"])
            rec["checks"] = CHECKS
    for start in range(0, len(todo), batch):
        group = todo[start:start + batch]
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            tarballs = _npm_pack([f"{f['package']}@{f['version']}" for f in group], Path(tmp))
            for f in group:
                index[f["package"]] = _install(f, tarballs.get(f["package"]), root)
        (root / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True))
        if progress:
            progress(len(group))
    (root / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True))
    if progress and len(todo) < len(wanted):
        progress(len(wanted) - len(todo))
    usable_fonts.cache_clear()
    return {f["package"]: index[f["package"]] for f in wanted}


def _install(entry: dict, tarball: Path | None, root: Path) -> dict:
    record = {"family": entry["family"], "version": entry["version"], "kind": entry["kind"], "path": None,
              "charset": "", "dropped": None}
    if tarball is None or not tarball.exists():
        return {**record, "dropped": "npm pack returned no tarball"}
    if integrity_of(tarball) != entry["integrity"]:
        return {**record, "dropped": "integrity mismatch with the manifest"}
    slug = _slug(entry["package"])
    path = _extract_regular(tarball, root / f"{slug}-{entry['version']}", slug)
    if path is None:
        return {**record, "dropped": "no latin normal-style WOFF file"}
    charset, reason = check_font(path)
    record.update(path=str(path), charset=charset, dropped=reason, checks=CHECKS)
    return record


def drop_reason(charset: str, required: str = REQUIRED) -> str | None:
    """Why a font drawing these characters is dropped (it lacks some required ones), or None to keep it."""
    missing = "".join(c for c in required if c not in charset)
    return f"lacks required characters {missing!r}" if missing else None


@lru_cache(maxsize=None)
def usable_fonts(kind: str | None = None, root: str | None = None) -> tuple[FontInfo, ...]:
    """Kept fonts present in the cache (of one kind, or all), sorted by package for determinism."""
    index = read_index(Path(root) if root else None)
    fonts = []
    for package, rec in sorted(index.items()):
        if rec["dropped"] or not rec["path"] or not Path(rec["path"]).exists():
            continue
        if kind is None or rec["kind"] == kind:
            fonts.append(FontInfo(rec["family"], package, rec["version"], rec["kind"], rec["path"],
                                  rec["charset"]))
    return tuple(fonts)


def require_fonts(kind: str | None = None) -> tuple[FontInfo, ...]:
    fonts = usable_fonts(kind, str(cache_dir()))
    if not fonts:
        what = f"{kind} fonts" if kind else "fonts"
        raise ResourceError(f"no {what} in {cache_dir()}: run `htr synth fonts` first")
    return fonts


@lru_cache(maxsize=None)
def x_height(path: str) -> float:
    """The font's x-height as a fraction of its size (fonts differ by a factor of two or more)."""
    box = load_font(path, 100).getbbox("x", anchor="ls")
    return max(0.2, min(0.8, (box[3] - box[1]) / 100)) if box[3] > box[1] else 0.45


def size_for(font: FontInfo, x_px: float, lo: int = 12, hi: int = 160) -> int:
    """The (even) font size that gives an x-height of about x_px pixels."""
    return int(np.clip(round(x_px / x_height(font.path) / 2) * 2, lo, hi))


@lru_cache(maxsize=1024)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def summary(index: dict) -> str:
    """A few lines on fetched, kept and dropped fonts."""
    lines = []
    for kind in KINDS:
        recs = [r for r in index.values() if r["kind"] == kind]
        kept = [r for r in recs if not r["dropped"]]
        full = [r for r in kept if set(CHARSET) <= set(r["charset"])]
        lines.append(f"{kind}: {len(recs)} fetched, {len(kept)} kept ({len(full)} cover the whole charset, "
                     f"{len(kept) - len(full)} restricted), {len(recs) - len(kept)} dropped")
    for package, rec in sorted(index.items()):
        missing = "".join(c for c in CHARSET if c not in rec["charset"])
        if rec["dropped"]:
            lines.append(f"  dropped {package}: {rec['dropped']}")
        elif missing:
            lines.append(f"  restricted {package}: avoids {missing!r}")
    return "\n".join(lines)


def as_dict(font: FontInfo) -> dict:
    return asdict(font)
