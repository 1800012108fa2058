"""DBNet for pages: a slim ResNet-like backbone, an FPN neck and a differentiable-binarization head.

The head predicts, per kind (channel 0 = text lines, 1 = words), a probability map and, in training, a
threshold map and the approximate binary map ``sigmoid(k (P - T))`` (Liao et al., "Real-time Scene Text
Detection with Differentiable Binarization", AAAI 2020). Maps come out at ``1 / out_stride`` of the input.
At inference only the probability branch runs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

KINDS = ("line", "word")
MEAN, STD = 0.5, 0.25  # pixel normalisation: (rgb / 255 - MEAN) / STD


def normalize(rgb: np.ndarray, mean: float = MEAN, std: float = STD) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) float32 network input."""
    return ((rgb.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1).copy()


@dataclass
class DetConfig:
    widths: tuple[int, ...] = (32, 64, 128, 256)  # channels of the stages at strides 4, 8, 16, 32
    blocks: tuple[int, ...] = (2, 2, 2, 2)  # BasicBlocks per stage
    stem: int = 24  # channels after the first stride-2 convolution
    fpn: int = 64  # FPN inner channels; each level gives fpn // 4 to the fused map
    head: int = 32  # head channels
    out_stride: int = 2  # 2: the head upsamples the 1/4 map once; 4: maps at 1/4
    kinds: tuple[str, ...] = KINDS
    k: float = 50.0  # steepness of the approximate binarization

    @classmethod
    def from_dict(cls, d: dict) -> "DetConfig":
        d = {key: tuple(v) if isinstance(v, list) else v for key, v in d.items() if key in cls.__dataclass_fields__}
        return cls(**d)

    def to_dict(self) -> dict:
        return {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(self).items()}


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.down is None else self.down(x)), inplace=True)


class Backbone(nn.Module):
    """ResNet-18-like: a 3x3 stride-2 stem pair (no max-pool), then stages at strides 4, 8, 16, 32."""

    def __init__(self, cfg: DetConfig):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, cfg.stem, 3, 2), conv_bn(cfg.stem, cfg.widths[0], 3, 2))
        stages, cin = [], cfg.widths[0]
        for i, (cout, n) in enumerate(zip(cfg.widths, cfg.blocks)):
            layers = [BasicBlock(cin, cout, 1 if i == 0 else 2)] + [BasicBlock(cout, cout) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            cin = cout
        self.stages = nn.ModuleList(stages)

    def forward(self, x) -> list[torch.Tensor]:
        x = self.stem(x)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


class FPN(nn.Module):
    """Top-down feature pyramid; every level is smoothed to fpn // 4 channels, upsampled to 1/4 and stacked."""

    def __init__(self, widths: tuple[int, ...], fpn: int):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, fpn, 1, bias=False) for c in widths)
        self.smooth = nn.ModuleList(conv_bn(fpn, fpn // 4) for _ in widths)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        laterals = [lat(f) for lat, f in zip(self.lateral, features)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[-2:],
                                                              mode="nearest")
        size = laterals[0].shape[-2:]
        outs = [smooth(x) for smooth, x in zip(self.smooth, laterals)]
        outs = [outs[0]] + [F.interpolate(o, size=size, mode="nearest") for o in outs[1:]]
        return torch.cat(outs, dim=1)


class Head(nn.Module):
    """3x3 conv, optional 2x transposed-conv upsampling, 1x1 conv to one logit map per kind."""

    def __init__(self, cin: int, ch: int, n_out: int, upsample: bool):
        super().__init__()
        layers = [conv_bn(cin, ch)]
        if upsample:
            layers += [nn.ConvTranspose2d(ch, ch, 2, 2, bias=False), nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(ch, n_out, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class DBNet(nn.Module):
    def __init__(self, cfg: DetConfig):
        super().__init__()
        assert cfg.out_stride in (2, 4), "out_stride is 2 or 4"
        self.cfg = cfg
        self.backbone = Backbone(cfg)
        self.neck = FPN(cfg.widths, cfg.fpn)
        n = len(cfg.kinds)
        self.prob_head = Head(cfg.fpn, cfg.head, n, cfg.out_stride == 2)
        self.thresh_head = Head(cfg.fpn, cfg.head, n, cfg.out_stride == 2)
        self.prob_head.body[-1].bias.data.fill_(-2.0)  # start with text rare, as it is on a page

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: (B, 3, H, W) normalised image -> {'prob': (B, kinds, h, w)}; in training also 'logits',
        'thresh' and 'binary'. h, w = ceil(H / 4) * 4 / out_stride (pad inputs to multiples of 32)."""
        fused = self.neck(self.backbone(x))
        logits = self.prob_head(fused)
        prob = torch.sigmoid(logits)
        if not self.training:
            return {"prob": prob}
        thresh = torch.sigmoid(self.thresh_head(fused))
        binary = torch.sigmoid(self.cfg.k * (prob - thresh))
        return {"prob": prob, "logits": logits, "thresh": thresh, "binary": binary}


def build_model(cfg: DetConfig | None = None) -> DBNet:
    model = DBNet(cfg or DetConfig())
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m is not model.prob_head.body[-1]:
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
