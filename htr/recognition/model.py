"""The line recogniser: a CNN over a grey line crop, a BiLSTM over its columns, a CTC head.

Shaped for CPU: input (B, 1, H, W) with H fixed. Version 2's shape (40 px, ``stem=False``): two 2x2 poolings leave
W/4 frames (a dense 30-character line 350 px wide still has ~90 frames), one (2, 1) pooling brings the height to
H/8 rows, which are folded into the channels. Version 3's (64 px, ``stem=True``): a stride-2 first convolution,
then 2x2, 2x2 and (2, 1) poolings: W/8 frames of H/16 rows, so a taller input and wider CNN cost less per line
than v2's once the frames halve. BatchNorm everywhere (it is what gets CTC off the all-blank plateau quickly).
``aux_ctc``: a second CTC head on the CNN's features (the "CTC shortcut"), trained beside the main one and
not used for reading. Built by ``build_model(RecConfig(...))``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class RecConfig:
    num_classes: int = 0  # codec size, blank and unknown included
    height: int = 40  # input height in pixels
    channels: tuple[int, ...] = (16, 32, 64, 96)  # one per stage; stages 0-1 pool 2x2, stage 2 pools (2, 1)
    blocks: tuple[int, ...] = (0, 0, 1, 0)  # residual blocks after each stage's first conv
    hidden: int = 128  # LSTM hidden size per direction
    layers: int = 2  # BiLSTM layers
    dropout: float = 0.2
    stride: int = 4  # crop pixels per output frame: 4 (stage 2 pools (2, 1)) or 8 (stage 2 pools 2x2)
    stem: bool = False  # stage 0's convolution strided 2x2, stages 1-3 pool 2x2, 2x2 and (2, 1) (H/16 rows), each
    # stage's residual blocks after its pooling
    aux_ctc: bool = False  # an auxiliary CTC head on the CNN's projected features (training only)
    packed: bool = True  # BiLSTM over packed sequences (each line exactly its own frames), else over the padded
    # batch (the backward direction also sees the few paper frames after a shorter line): 2.5x faster to train

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"], d["blocks"] = list(self.channels), list(self.blocks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RecConfig":
        d = dict(d)
        d["channels"], d["blocks"] = tuple(d["channels"]), tuple(d["blocks"])
        return cls(**d)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """Two 3x3 convs with an identity shortcut."""

    def __init__(self, c: int):
        super().__init__()
        self.a = _conv(c, c)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return torch.relu(x + self.b(self.a(x)))


class CRNN(nn.Module):
    def __init__(self, cfg: RecConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.stem:  # W/2 from the strided stem, then W/8 frames of H/16 rows
            pools = [None, (2, 2), (2, 2), (2, 1)]
        else:  # H/8 rows, W/stride frames
            pools = [(2, 2), (2, 2), (2, cfg.stride // 4), None]
        layers, cin = [], 1
        for stage, (cout, nblocks, pool) in enumerate(zip(cfg.channels, cfg.blocks, pools)):
            blocks = [ResBlock(cout) for _ in range(nblocks)]
            pooling = [nn.MaxPool2d(pool)] if pool else []
            # v3 pools before its residual blocks (they cost a quarter), v2 after
            layers += [_conv(cin, cout, 2 if cfg.stem and stage == 0 else 1)] + (
                pooling + blocks if cfg.stem else blocks + pooling)
            cin = cout
        self.cnn = nn.Sequential(*layers)
        rows = cfg.height // (16 if cfg.stem else 8)
        self.proj = nn.Sequential(nn.Linear(cfg.channels[-1] * rows, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout))
        self.rnn = nn.LSTM(cfg.hidden, cfg.hidden, num_layers=cfg.layers, bidirectional=True, batch_first=True,
                           dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(2 * cfg.hidden, cfg.num_classes))
        # the CTC shortcut: a 3-frame convolution over the LSTM's input straight to the classes
        self.aux = nn.Conv1d(cfg.hidden, cfg.num_classes, 3, padding=1) if cfg.aux_ctc else None

    def frames(self, widths: torch.Tensor) -> torch.Tensor:
        """Output frames for input widths (floor division by the stride, at least 1)."""
        return torch.clamp(widths // self.cfg.stride, min=1)

    def forward(self, x: torch.Tensor, widths: torch.Tensor | None = None, aux: bool = False):
        """(B, 1, H, W) float input (paper ~0, ink ~1) -> (B, T, classes) logits, T = W // stride.

        ``widths`` (B,) are the unpadded widths; with ``cfg.packed`` padded frames are ignored by the LSTM.
        ``aux`` (training, with ``cfg.aux_ctc``): (logits, the auxiliary head's logits).
        """
        f = self.cnn(x.contiguous(memory_format=torch.channels_last))  # (B, C, rows, T); NHWC is ~25% faster on CPU
        b, c, h, t = f.shape
        f = self.proj(f.permute(0, 3, 1, 2).reshape(b, t, c * h))
        shortcut = self.aux(f.transpose(1, 2)).transpose(1, 2) if aux and self.aux is not None else None
        if widths is not None and b > 1 and self.cfg.packed:
            lengths = self.frames(widths).clamp(max=t).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(f, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
        else:
            out, _ = self.rnn(f)
        return (self.head(out), shortcut) if aux else self.head(out)


def build_model(cfg: RecConfig) -> CRNN:
    if cfg.num_classes < 2:
        raise ValueError("RecConfig.num_classes must be set (the codec's size)")
    if cfg.height % (16 if cfg.stem else 8):
        raise ValueError(f"height must be a multiple of {16 if cfg.stem else 8}, got {cfg.height}")
    if cfg.stem and cfg.stride != 8:
        raise ValueError("a strided stem gives 8 pixels per frame (stride 8)")
    if cfg.stride not in (4, 8):
        raise ValueError(f"stride must be 4 or 8, got {cfg.stride}")
    if len(cfg.channels) != 4 or len(cfg.blocks) != 4:
        raise ValueError("channels and blocks have one entry per stage (4)")
    return CRNN(cfg).to(memory_format=torch.channels_last)


def count_macs(model: CRNN, width: int = 1000) -> int:
    """Multiply-accumulates of one forward pass over a line ``width`` pixels wide (convs, linears, LSTM)."""
    cfg, macs = model.cfg, 0
    h, w = cfg.height, width
    for m in model.cnn.modules():
        if isinstance(m, nn.MaxPool2d):
            k = m.kernel_size if isinstance(m.kernel_size, tuple) else (m.kernel_size, m.kernel_size)
            h, w = h // k[0], w // k[1]
        elif isinstance(m, nn.Conv2d):
            h, w = h // m.stride[0], w // m.stride[1]
            macs += h * w * m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
    t = w
    macs += sum(t * m.in_features * m.out_features for m in [*model.proj.modules(), *model.head.modules()]
                if isinstance(m, nn.Linear))
    for layer in range(cfg.layers):
        cin = cfg.hidden if layer == 0 else 2 * cfg.hidden
        macs += 2 * t * 4 * (cin + cfg.hidden) * cfg.hidden
    return macs
