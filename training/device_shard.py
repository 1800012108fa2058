"""A compact shard of the compiled corpus for a GPU machine that only a small working tree reaches (issue 30, step 5).

    python training/device_shard.py pack --recipe training/recipes/rec-v3-cycle.toml --out .shard --mib 20
    python training/device_shard.py unpack .shard ~/.cache/htr/corpus64     # on the device: a compiled corpus again

`pack` takes the recipe's --data sources (a compiled corpus's SOURCE folders), keeps exactly the dev lines the
trainer evaluates on (its fixed dev subset, so the device's log reads like this machine's) and a random share of
each source's train lines, the same share for all, as many as fit in MIB, each crop stored as lossy WebP (~4 KB a
line against ~46 KB raw: 20 MiB hold ~5,000 of the 60,000 train lines). `unpack` writes them back as a compiled
corpus (manifest.json, SOURCE/crops.u8 and lines.jsonl) at the recipe's paths, so `htr train rec --config RECIPE`
runs there unchanged. training/device_train.sh is the command that runs on the device.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from htr.data.corpus import MANIFEST, read_jsonl, read_manifest
from htr.train.data import resolve_data, training_lines
from htr.train.rec import RecRecipe, dev_subset
from htr.train.recipe import read_recipe

QUALITY = 75  # WebP quality: ~4 KB per 64 px line
INDEX_BYTES = 150  # a line's row in lines.jsonl, about


def encode(crop: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".webp", crop, [cv2.IMWRITE_WEBP_QUALITY, QUALITY])
    if not ok:  # wider than WebP allows (16,383 px)
        ok, data = cv2.imencode(".png", crop)
    return data.tobytes()


def pack(recipe: Path, out: Path, mib: float, seed: int = 0) -> dict:
    """Write the shard to ``out``; returns {source: (train lines kept, of all, dev lines)}."""
    r = RecRecipe(**read_recipe(recipe, RecRecipe))
    with tempfile.TemporaryDirectory() as tmp:
        corpus = read_manifest(resolve_data(r.data[:1], Path(tmp), r.height)[0][0])
        train, dev, _ = training_lines(r.data, Path(tmp), corpus["height"])  # crops kept at the height compiled
    rows = {}  # (crops file, offset) -> the compiled line's record (its doc, page and id)
    for crops_file in {Path(f) for f in train.files}:
        for row in read_jsonl(crops_file.with_name("lines.jsonl")):
            rows[(crops_file, row["offset"])] = row
    picked = [(dev, i) for i in dev_subset(dev, r.eval_lines)]
    order = np.random.default_rng(seed).permutation(len(train))
    budget, used = mib * 2 ** 20, 0
    blobs: dict[str, list[tuple[dict, bytes]]] = {}
    for lines, i in picked + [(train, int(i)) for i in order]:
        data = encode(lines.image(i))
        if used + len(data) + INDEX_BYTES > budget:
            if lines is dev:
                raise SystemExit(f"--mib {mib}: too small for the dev subset alone")
            break
        used += len(data) + INDEX_BYTES
        row = rows[(Path(lines.files[lines.source_of[i]]), lines.offsets[i])]
        blobs.setdefault(lines.source(i), []).append((row, data))
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"height": corpus["height"], "normalizer": corpus["normalizer"], "shard": True, "sources": {}}
    totals = Counter(train.source(i) for i in range(len(train)))
    counts = {}
    for source, items in sorted(blobs.items()):
        (out / source).mkdir(exist_ok=True)
        at = 0
        with open(out / source / "crops.bin", "wb") as crops, open(out / source / "lines.jsonl", "w") as index:
            for row, data in items:
                crops.write(data)
                keep = {k: row[k] for k in ("text", "split", "doc", "page", "id")}
                index.write(json.dumps({**keep, "at": at, "size": len(data)}, ensure_ascii=False) + "\n")
                at += len(data)
        n_train = sum(row["split"] == "train" for row, _ in items)
        counts[source] = (n_train, totals[source], len(items) - n_train)
        manifest["sources"][source] = {"splits": {"train": {"lines": n_train}, "dev": {"lines": len(items) - n_train}}}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return counts


def unpack(shard: Path, out: Path) -> int:
    """Write the shard's lines as a compiled corpus in ``out`` (refusing to overwrite a real corpus); lines written."""
    existing = read_manifest(out)
    if existing is not None and not existing.get("shard"):
        raise SystemExit(f"{out} holds a compiled corpus, not an unpacked shard: give another folder")
    manifest = json.loads((shard / MANIFEST).read_text(encoding="utf-8"))
    total = 0
    for source in manifest["sources"]:
        blob = (shard / source / "crops.bin").read_bytes()
        (out / source).mkdir(parents=True, exist_ok=True)
        offset = 0
        with open(out / source / "crops.u8", "wb") as crops, open(out / source / "lines.jsonl", "w") as index:
            for row in read_jsonl(shard / source / "lines.jsonl"):
                crop = cv2.imdecode(np.frombuffer(blob, np.uint8, row.pop("size"), row.pop("at")),
                                    cv2.IMREAD_GRAYSCALE)
                crops.write(np.ascontiguousarray(crop).tobytes())
                index.write(json.dumps({**row, "offset": offset, "width": crop.shape[1]}, ensure_ascii=False) + "\n")
                offset += crop.size
                total += 1
        (out / source / "pages.jsonl").write_text("", encoding="utf-8")
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="write a shard of the recipe's corpus")
    p.add_argument("--recipe", type=Path, default=Path("training/recipes/rec-v3-cycle.toml"))
    p.add_argument("--out", type=Path, default=Path(".shard"))
    p.add_argument("--mib", type=float, default=20.0, help="size of the shard (default: 20 MiB)")
    u = sub.add_parser("unpack", help="write a shard back as a compiled corpus")
    u.add_argument("shard", type=Path)
    u.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        for source, (kept, of, dev) in pack(args.recipe, args.out, args.mib).items():
            print(f"{source:20} train {kept:6} of {of:6}   dev {dev:4}")
        size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
        print(f"{args.out}: {size / 2 ** 20:.1f} MiB")
    else:
        print(f"{args.out}: {unpack(args.shard, args.out.expanduser())} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
