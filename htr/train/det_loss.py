"""DB loss: balanced BCE with 3:1 hard-negative mining on the probability map, dice on the approximate
binary map and masked L1 on the threshold map, per kind (channel), each channel under its own masks.

A kind a page has no ground truth for (words on real pages) has an all-zero mask there: it adds nothing to
the loss and receives no gradient.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def balanced_bce(logits: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, negative_ratio: float = 3.0,
                 eps: float = 1e-6) -> torch.Tensor:
    """BCE over all positives and the hardest negatives, at most ``negative_ratio`` per positive."""
    positive = gt * mask
    negative = (1 - gt) * mask
    n_pos = int(positive.sum().item())
    n_neg = min(int(negative.sum().item()), int(n_pos * negative_ratio)) if n_pos else min(
        int(negative.sum().item()), 1000)  # no text: still learn from the worst background pixels
    loss = F.binary_cross_entropy_with_logits(logits, gt, reduction="none")
    pos_loss = (loss * positive).sum()
    neg_loss = (loss * negative).flatten()
    if n_neg > 0:
        neg_loss = neg_loss.topk(n_neg).values.sum()
    else:
        neg_loss = neg_loss.sum() * 0
    return (pos_loss + neg_loss) / (n_pos + n_neg + eps)


def dice_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    inter = (pred * gt * mask).sum()
    union = (pred * mask).sum() + (gt * mask).sum() + eps
    return 1 - 2.0 * inter / union


def masked_l1(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return ((pred - gt).abs() * mask).sum() / (mask.sum() + eps)


def db_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], alpha: float = 1.0, beta: float = 10.0,
            negative_ratio: float = 3.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (floats, per kind) for model outputs in training mode and a batch holding
    'gt', 'mask', 'thresh', 'thresh_mask' (B, kinds, h, w) and 'has' (B, kinds): 1 where the page has that
    kind's ground truth. Each kind: BCE(prob) + alpha * dice(binary) + beta * L1(thresh), over the
    pages that have it; kinds no page of the batch has are left out."""
    has = batch["has"].to(out["logits"].dtype)[:, :, None, None]
    mask, thresh_mask = batch["mask"] * has, batch["thresh_mask"] * has
    total = out["logits"].sum() * 0  # keeps the graph when no kind counts
    parts: dict[str, float] = {}
    for c in range(out["logits"].shape[1]):
        if not bool(batch["has"][:, c].any()):
            continue
        sl = (slice(None), slice(c, c + 1))
        bce = balanced_bce(out["logits"][sl], batch["gt"][sl], mask[sl], negative_ratio)
        dice = dice_loss(out["binary"][sl], batch["gt"][sl], mask[sl])
        l1 = masked_l1(out["thresh"][sl], batch["thresh"][sl], thresh_mask[sl])
        total = total + bce + alpha * dice + beta * l1
        parts.update({f"bce{c}": bce.item(), f"dice{c}": dice.item(), f"l1_{c}": l1.item()})
    return total, parts
