"""Where htr finds its shipped weights (package data: ``htr/weights``) and the shared real data (training
and evaluation only)."""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

WEIGHTS_DIR = Path(str(resources.files("htr") / "weights"))  # a real folder: checkout or installed wheel
DEFAULT_LM = WEIGHTS_DIR / "lm.json.gz"  # character language model for the beam search (`htr train lm`)
REPO = Path(__file__).resolve().parents[1]  # the checkout, when htr runs from one (else site-packages)


def shared_dir() -> Path:
    """$HTR_SHARED, else the `shared` folder beside the checkout (holding data/ and schemas/); for an
    installed htr, ``../shared`` from the working directory."""
    beside = REPO if (REPO / "pyproject.toml").is_file() else Path.cwd()
    return Path(os.environ.get("HTR_SHARED", beside.parent / "shared"))
