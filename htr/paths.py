"""Where htr finds its shipped weights and the shared real data (training and evaluation only)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = REPO / "weights"
DEFAULT_LM = WEIGHTS_DIR / "lm.json.gz"  # character language model for the beam search (`htr train lm`)


def shared_dir() -> Path:
    """$HTR_SHARED, else the `shared` folder beside the repository (holding data/ and schemas/)."""
    return Path(os.environ.get("HTR_SHARED", REPO.parent / "shared"))
