"""``htr data compile``: ground-truth folders -> a compiled corpus (see ``htr.data.corpus`` for the layout).

Every transcribed line of every PAGE-XML/ALTO page (and every crop of a ``labels.tsv`` / ``lines.jsonl``
folder) is normalised (``htr.data.normalize``), cropped once at the recogniser's height and appended to its
source's memory-mapped shard; pages are indexed for detector training. A line or page that cannot be used is
left out with its reason, the rest compiled. Splits are by document: a document is dev when a hash of
``source/document key`` falls under ``dev_share``, unless its folder is marked all-train or all-dev. A source
whose inputs (names, sizes, modification times) and options are unchanged since the last compile is kept as it is.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import multiprocessing
import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from htr.data import normalize
from htr.data.corpus import MANIFEST, read_manifest
from htr.files import atomic_write
from htr.imageio import IMAGE_SUFFIXES
from htr.data.lines import LISTING_ROW, listing_rows
from htr.data.pages import image_for

SPLITS = ("train", "dev")
CROP_LISTINGS = ("labels.tsv", "lines.jsonl")
MIN_INSIDE = 0.5  # a line polygon with less of its area inside the image is "outside the image"
MIN_PX_PER_CHAR = 0.1  # of the crop height: narrower crops are far too thin for their text (< 1 CTC frame a char)


@dataclass
class Source:
    """One named source: folders searched recursively, each all-train, all-dev or split by document hash (at
    least one document in dev when there are two or more)."""

    name: str
    folders: list[tuple[Path, str]]  # (folder, "hash" | "train" | "dev")
    root: Path | None = None  # document keys are paths relative to this (default: each folder)
    document: str = "page"  # "page", "folder", or a regex whose first group is the document key
    exclude: list[str] = field(default_factory=list)  # fnmatch patterns of paths (relative to root) to skip


@dataclass
class Task:
    """One page (an XML file) or one crop listing to compile; picklable for worker processes."""

    kind: str  # "xml" | "crops"
    path: Path
    doc: str
    split: str
    height: int


def doc_hash(source: str, doc: str) -> float:
    """A document key's place in [0, 1): a hash, stable across runs and machines."""
    digest = hashlib.sha1(f"{source}/{doc}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def split_of(source: str, doc: str, dev_share: float) -> str:
    """"dev" for a deterministic ``dev_share`` of document keys."""
    return "dev" if doc_hash(source, doc) < dev_share else "train"


def at_least_one_dev(source: str, tasks: list[Task], hashed: set[str]) -> None:
    """When the hash put none of a source's two or more hashed documents in dev, the lowest-hashed one goes
    there, so that every source split by hash has a dev split."""
    if len(hashed) < 2 or any(t.split == "dev" for t in tasks if t.doc in hashed):
        return
    chosen = min(hashed, key=lambda doc: doc_hash(source, doc))
    for task in tasks:
        if task.doc == chosen:
            task.split = "dev"


def document_key(rel: Path, rule: str) -> str:
    """The document a page (its path relative to the source root) belongs to, by the source's rule."""
    stem = rel.as_posix()
    for suffix in (".page.xml", ".alto.xml", ".xml"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if rule == "page":
        return stem
    if rule == "folder":
        return rel.parent.as_posix()
    match = re.search(rule, rel.as_posix())
    return match.group(1) if match else stem


def source_tasks(source: Source, height: int, dev_share: float) -> tuple[list[Task], list[Path]]:
    """The tasks of a source in a fixed order, and every input file (for the fingerprint)."""
    tasks, inputs, seen, hashed = [], [], set(), set()
    for folder, split in source.folders:
        root = source.root or folder
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        listings = {p.parent for p in files if p.name in CROP_LISTINGS}
        for path in files:
            rel = path.relative_to(root)
            if any(fnmatch.fnmatch(rel.as_posix(), pat) for pat in source.exclude):
                continue
            in_listing = any(d == path.parent or d in path.parents for d in listings)
            if path.suffix.lower() in IMAGE_SUFFIXES or path.suffix.lower() == ".xml" or path.name in CROP_LISTINGS:
                inputs.append(path)
            if path.resolve() in seen:
                continue
            if path.name in CROP_LISTINGS and not (path.name == "lines.jsonl" and (path.parent / "labels.tsv").exists()):
                kind = "crops"
            elif path.suffix.lower() == ".xml" and not in_listing:
                kind = "xml"
            else:
                continue
            seen.add(path.resolve())
            doc = document_key(rel, source.document)
            if split == "hash":
                hashed.add(doc)
            task_split = split if split != "hash" else split_of(source.name, doc, dev_share)
            tasks.append(Task(kind, path, doc, task_split, height))
    at_least_one_dev(source.name, tasks, hashed)
    return tasks, inputs


def fingerprint(source: Source, tasks: list[Task], inputs: list[Path], options: dict) -> str:
    h = hashlib.sha1(json.dumps({"source": {**asdict(source), "folders": [(str(f), s) for f, s in source.folders],
                                            "root": str(source.root)}, **options,
                                 "dev": sorted({t.doc for t in tasks if t.split == "dev"})}, sort_keys=True).encode())
    for path in inputs:
        st = path.stat()
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------ one page

def _inside_share(polygon: np.ndarray, width: int, height: int) -> float:
    import shapely

    shape = shapely.Polygon(polygon).buffer(0) if len(polygon) >= 3 else None
    if shape is None or shape.area <= 0:
        return 1.0  # degenerate: reported as such by the crop
    return shape.intersection(shapely.box(0, 0, width, height)).area / shape.area


def _compile_xml(task: Task) -> dict:
    from htr.errors import HTRError
    from htr.formats import read_document
    from htr.geometry import crop_page_lines
    from htr.imageio import load_image

    out = {"page": None, "lines": [], "left_out": []}
    where = str(task.path)
    try:
        page = read_document(task.path, clip=False)
    except HTRError as err:
        detail = str(err).removeprefix(where + ": ")
        reason = "not a PAGE or ALTO document" if "neither PAGE" in detail else "malformed XML"
        out["left_out"].append((where, detail if detail.startswith(reason) else f"{reason}: {detail}"))
        return out
    transcribed = [ln for ln in page.lines if ln.text.strip()]
    image_path = image_for(task.path, page.source)
    if image_path is None:
        out["left_out"].append((where, f"missing image ({page.source or 'none named'}, none of the XML's stem beside it)"))
        return out
    try:
        image = load_image(image_path)
    except HTRError as err:
        out["left_out"].append((where, f"unreadable image: {err}"))
        return out
    h, w = image.shape[:2]
    if page.width > 0 and page.height > 0 and (page.width, page.height) != (w, h):
        sx, sy = w / page.width, h / page.height
        if abs(sx / sy - 1) > 0.02:
            out["left_out"].append((where, f"image is {w}x{h} but the XML says {page.width}x{page.height}"))
            return out
        for shape in [*page.lines, *page.words()]:  # a rescaled image: scale the coordinates with it
            shape.polygon = shape.polygon * np.float32([sx, sy])
        for line in page.lines:
            line.baseline = None if line.baseline is None else line.baseline * np.float32([sx, sy])
    page.width, page.height = w, h
    kept = []
    for i, line in enumerate(page.lines):
        name = f"{where}:{line.id or i}"
        text, problem = normalize.normalize_text(line.text), normalize.unusable(line.text)
        if not text:
            out["left_out"].append((name, "empty text"))
        elif problem:
            out["left_out"].append((name, problem))
        elif _inside_share(line.polygon, w, h) < MIN_INSIDE:
            out["left_out"].append((name, "polygon outside the image"))
        else:
            kept.append((line.id or str(i), text, line))
    page.clip_to_image()
    crops = crop_page_lines(image, [line for _, _, line in kept], task.height)
    for (line_id, text, _), crop in zip(kept, crops):
        name = f"{where}:{line_id}"
        if crop is None:
            out["left_out"].append((name, "degenerate polygon"))
        elif crop.image.shape[1] < MIN_PX_PER_CHAR * task.height * len(text):
            out["left_out"].append((name, f"crop far too thin for its text ({crop.image.shape[1]} px, {len(text)} chars)"))
        else:
            out["lines"].append((line_id, text, np.ascontiguousarray(crop.image)))
    out["page"] = {"image": str(image_path.resolve()), "xml": str(task.path.resolve()), "doc": task.doc,
                   "split": task.split, "lines": len(out["lines"]), "transcribed": len(transcribed)}
    return out


def _compile_crops(task: Task) -> dict:
    from htr.errors import HTRError
    from htr.imageio import load_image
    from htr.recognition.recognizer import fit_height

    out = {"page": None, "lines": [], "left_out": []}
    for n, row in listing_rows(task.path):
        where = f"{task.path}:{n}"
        if row is None:
            out["left_out"].append((where, f"malformed row (expected {LISTING_ROW})"))
            continue
        name, text = row
        text, problem = normalize.normalize_text(text), normalize.unusable(text)
        if not text or problem:
            out["left_out"].append((where, problem or "empty text"))
            continue
        try:
            crop = fit_height(load_image(task.path.parent / name), task.height)
        except HTRError as err:
            out["left_out"].append((where, f"unreadable image: {err}"))
            continue
        if crop.shape[1] < MIN_PX_PER_CHAR * task.height * len(text):
            out["left_out"].append((where, f"crop far too thin for its text ({crop.shape[1]} px, {len(text)} chars)"))
            continue
        out["lines"].append((name, text, np.ascontiguousarray(crop)))
    return out


def compile_task(task: Task) -> dict:
    """{"page": index record or None, "lines": [(id, text, crop)], "left_out": [(where, reason)]}."""
    return _compile_xml(task) if task.kind == "xml" else _compile_crops(task)


def _worker_init():
    import cv2

    cv2.setNumThreads(1)


# ------------------------------------------------------------------------------------------ a whole corpus

def _write_source(name: str, tasks: list[Task], results, folder: Path, progress) -> dict:
    """Write one source's shard from its task results (in task order); its report as a dict."""
    folder.mkdir(parents=True)
    counts = {s: Counter() for s in SPLITS}
    charset: Counter = Counter()
    left_out, offset = [], 0
    with open(folder / "crops.u8", "wb") as crops, open(folder / "lines.jsonl", "w", encoding="utf-8") as lines, \
            open(folder / "pages.jsonl", "w", encoding="utf-8") as pages:
        for task, result in zip(tasks, results):
            progress.update(1)
            left_out += result["left_out"]
            if result["page"] is not None:
                pages.write(json.dumps(result["page"], ensure_ascii=False) + "\n")
                counts[task.split]["pages"] += 1
            page_key = task.path.stem
            for line_id, text, crop in result["lines"]:
                crops.write(crop.tobytes())
                row = {"text": text, "split": task.split, "doc": task.doc, "page": page_key, "id": line_id,
                       "offset": offset, "width": int(crop.shape[1])}
                lines.write(json.dumps(row, ensure_ascii=False) + "\n")
                offset += crop.size
                counts[task.split]["lines"] += 1
                counts[task.split]["chars"] += len(text)
                charset.update(text)
    docs = {s: len({t.doc for t in tasks if t.split == s}) for s in SPLITS}
    reasons = Counter(reason.split(":")[0].split(" (")[0] for _, reason in left_out)
    report = {"name": name, "inputs": len(tasks),
              "splits": {s: {"documents": docs[s], "pages": counts[s]["pages"], "lines": counts[s]["lines"],
                             "chars": counts[s]["chars"]} for s in SPLITS},
              "charset": dict(charset.most_common()), "left_out_reasons": dict(reasons.most_common()),
              "left_out": [{"where": w, "reason": r} for w, r in left_out]}
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return report


def compile_corpus(sources: list[Source], out: Path, height: int, dev_share: float = 0.1, workers: int = 1,
                   quiet: bool = False) -> dict:
    """Compile ``sources`` into the corpus folder ``out``; unchanged sources are kept. Returns the manifest
    with a "compiled" list (the sources rebuilt this run)."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out) or {}
    if manifest.get("height") != height or manifest.get("normalizer") != normalize.VERSION:
        manifest = {"height": height, "normalizer": normalize.VERSION, "sources": {}}
    options = {"height": height, "dev_share": dev_share, "normalizer": normalize.VERSION}
    plans = []
    for source in sources:
        tasks, inputs = source_tasks(source, height, dev_share)
        fp = fingerprint(source, tasks, inputs, options)
        if manifest["sources"].get(source.name, {}).get("fingerprint") == fp and (out / source.name).is_dir():
            continue
        plans.append((source, tasks, fp))
    manifest["compiled"] = [s.name for s, _, _ in plans]
    total = sum(len(t) for _, t, _ in plans)
    pool = None
    if workers > 1 and total:
        pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init)
    try:
        with tqdm(total=total, unit="page", desc="compiling", disable=quiet or not total) as progress:
            for source, tasks, fp in plans:
                part = out / (source.name + ".part")
                shutil.rmtree(part, ignore_errors=True)
                results = pool.imap(compile_task, tasks, chunksize=2) if pool else map(compile_task, tasks)
                report = _write_source(source.name, tasks, results, part, progress)
                shutil.rmtree(out / source.name, ignore_errors=True)
                part.replace(out / source.name)
                manifest["sources"][source.name] = {"fingerprint": fp, "splits": report["splits"],
                                                    "left_out": len(report["left_out"])}
                _write_manifest(out, manifest)
    finally:
        if pool:
            pool.close()
            pool.join()
    _write_manifest(out, manifest)
    return manifest


def _write_manifest(out: Path, manifest: dict) -> None:
    atomic_write(out / MANIFEST, json.dumps({k: v for k, v in manifest.items() if k != "compiled"}, indent=1))
