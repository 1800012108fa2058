"""Where htr finds its shipped weights (package data: ``htr/weights``) and the shared real data (training
and evaluation only)."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

WEIGHTS_DIR = Path(str(resources.files("htr") / "weights"))  # a real folder: checkout or installed wheel
DEFAULT_LM = WEIGHTS_DIR / "lm.json.gz"  # character language model for the beam search (`htr train lm`)
MODELS = {"det": "detector", "rec": "recogniser"}  # the kinds of weights file, and what they hold
REPO = Path(__file__).resolve().parents[1]  # the checkout, when htr runs from one (else site-packages)


def shared_dir() -> Path:
    """$HTR_SHARED, else the `shared` folder beside the checkout (holding data/ and schemas/); for an
    installed htr, ``../shared`` from the working directory."""
    beside = REPO if (REPO / "pyproject.toml").is_file() else Path.cwd()
    return Path(os.environ.get("HTR_SHARED", beside.parent / "shared"))


def default_weights(kind: str) -> Path:
    """The shipped weights of a model kind ("det" or "rec"): htr/weights/KIND.pt."""
    if kind not in MODELS:
        raise ValueError(f"unknown kind of weights {kind!r} (one of {', '.join(MODELS)})")
    return WEIGHTS_DIR / f"{kind}.pt"


def weights_path(path: str | Path | None, kind: str) -> Path:
    """``path``, or the shipped weights of ``kind`` where it is None or empty."""
    return Path(path) if path else default_weights(kind)


def cache_root() -> Path:
    """Where htr keeps what it derives from model files (ONNX exports, language-model tables): $HTR_CACHE,
    else ~/.cache/htr."""
    root = os.environ.get("HTR_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "htr"
