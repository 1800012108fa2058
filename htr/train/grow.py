"""Starting a recogniser from a trained one: its weights read from a weights file or a checkpoint, and grown into
a wider model (more CNN channels, a wider LSTM, more output classes) without changing what it first computes."""
from __future__ import annotations

import numpy as np
import torch

from htr.recognition.model import RecConfig


def read_model(path: str) -> tuple[dict, RecConfig, str]:
    """(fp32 state dict, config, charset) of a weights file or a training checkpoint."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    state = blob["model"] if "model" in blob else blob["state_dict"]
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return state, RecConfig.from_dict(blob["config"]), blob["charset"]


def _kept_rows(name: str, dim: int, old: int, new: int) -> np.ndarray:
    """Where the ``old`` entries of dimension ``dim`` of parameter ``name`` sit once it is ``new`` long:
    LSTM gate rows come in 4 blocks (i, f, g, o), inputs from a BiLSTM in 2 (forward, backward)."""
    blocks = 1
    if name.startswith("rnn.") and dim == 0:
        blocks = 4
    elif (name.startswith("rnn.weight_ih_l") and not name.startswith("rnn.weight_ih_l0")) or name.startswith("head."):
        blocks = 2 if dim == 1 else 1
    return np.concatenate([np.arange(b * new // blocks, b * new // blocks + old // blocks) for b in range(blocks)])


def grow_into(model, old_state: dict) -> None:
    """Load ``old_state`` into ``model``, whose CNN channels, LSTM or output layer may be wider: trained weights
    go where they were, the new units start small (a tenth of their initialisation, batch-norm scales too) so
    the grown model first computes nearly what the old did."""
    new_state = model.state_dict()
    for name, new in new_state.items():
        old = old_state.get(name)
        if old is None:
            raise ValueError(f"cannot grow into {name}: the trained model has no such parameter (more layers "
                             "or blocks cannot be grown, only wider ones)")
        if old.shape == new.shape:
            new.copy_(old)
            continue
        if not new.is_floating_point() or old.dim() != new.dim():
            raise ValueError(f"cannot grow {name} from {tuple(old.shape)} to {tuple(new.shape)}")
        if not name.endswith("running_var"):  # new channels' variance estimate stays 1
            new.mul_(0.1)
        index = np.ix_(*[_kept_rows(name, d, o, n) for d, (o, n) in enumerate(zip(old.shape, new.shape))])
        new[index] = old
    model.load_state_dict(new_state)
