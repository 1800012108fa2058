"""The one layout of a weights file, for the detector and the recogniser alike.

A weights file is a dict written with ``torch.save`` and read with ``torch.load(weights_only=True)``:
``format`` ("htr-det/1" or "htr-rec/1": the kind and the layout's version), the model's tensors, its
config as a plain dict, how to prepare its input, and free-form ``meta``; the keys beside ``format`` are the
model's own (see ``htr.detection.detector`` and ``htr.recognition.recognizer``: a recogniser's file may also hold
the ``calibration`` of its confidences, ``htr.calibration``). Recogniser files written before the tag carry no
``format`` and are read as "htr-rec/1".
"""
from __future__ import annotations

from pathlib import Path

from htr.errors import ResourceError
from htr.files import atomic_path
from htr.paths import MODELS, weights_path

FORMATS = {"det": "htr-det/1", "rec": "htr-rec/1"}
UNTAGGED = {"rec": "state_dict"}  # kinds whose files may predate the tag: the key such a file has


def save_model_file(path: str | Path, kind: str, blob: dict) -> None:
    """Write ``blob`` with its format tag, whole or not at all."""
    import torch

    with atomic_path(path) as tmp:
        torch.save({"format": FORMATS[kind], **blob}, tmp)


def load_model_file(path: str | Path | None, kind: str) -> dict:
    """The dict of a weights file of ``kind`` (None: the shipped one); ResourceError, one line, when it is
    missing, unreadable or of another kind."""
    import torch

    path, name = weights_path(path, kind), MODELS[kind]
    if not path.is_file():
        raise ResourceError(f"{path}: {name} weights not found (train them with `htr train {kind}`, "
                            f"or give the path of a weights file)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ResourceError(f"{path}: not a readable {name} weights file ({type(err).__name__})") from err
    tag = blob.get("format") if isinstance(blob, dict) else None
    if tag is None and isinstance(blob, dict) and UNTAGGED.get(kind) in blob:
        tag = FORMATS[kind]
    if tag != FORMATS[kind]:
        raise ResourceError(f"{path}: not an htr {name} weights file (format {FORMATS[kind]!r} expected, "
                            f"found {tag!r})")
    return blob
