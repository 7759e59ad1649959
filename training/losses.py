"""SAMIHS's loss: BCE (pos_weight 2) + Boundary DoU loss, as the public code computes them.

Boundary DoU, over the whole batch: C = foreground GT pixels with a
4-neighbour outside the foreground (the image border counts as outside), S = foreground GT pixels,
alpha = min(1 - 2 (C + 1e-5) / (S + 1e-5), 0.8),
L_bd = (sum p^2 + sum g^2 - 2 sum pg + 1e-5) / (sum p^2 + sum g^2 - (1 + alpha) sum pg + 1e-5).
The paper's form, L_bd = 1 - 2 gamma TP / (2 gamma TP + FP + FN) with gamma = 1 - C / S, is
available as `form="gamma"`. Losses are computed in float32 even under autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SMOOTH = 1e-5
ALPHA_MAX = 0.8
_CROSS = torch.tensor([[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])


def boundary_counts(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(C, S) over the batch: boundary and total foreground pixel counts of a {0, 1} target.

    target: (B, 1, H, W). A pixel is on the boundary when its 4-neighbourhood (with zero padding
    outside the image) is not all foreground.
    """
    g = (target > 0.5).float()
    kernel = _CROSS.to(g.device).view(1, 1, 3, 3)
    neighbours = F.conv2d(g, kernel, padding=1) * g  # 5 inside, 1..4 on the boundary, 0 outside
    boundary = ((neighbours > 0) & (neighbours < 5)).sum()
    return boundary.float(), g.sum()


def boundary_alpha(target: torch.Tensor) -> torch.Tensor:
    """alpha = min(1 - 2 (C + 1e-5) / (S + 1e-5), 0.8) for the whole batch."""
    c, s = boundary_counts(target)
    alpha = 1.0 - 2.0 * (c + SMOOTH) / (s + SMOOTH)
    return torch.clamp(alpha, max=ALPHA_MAX)


def boundary_dou_loss(
    probs: torch.Tensor, target: torch.Tensor, form: str = "released"
) -> torch.Tensor:
    """Boundary DoU loss of probabilities (B, 1, H, W) against a {0, 1} target, batch-level.

    form: "released" (the public code's DoU expression) or "gamma" (the paper's formula).
    """
    p, g = probs.float(), target.float()
    if form == "released":
        alpha = boundary_alpha(g)
        pp, gg, pg = (p * p).sum(), (g * g).sum(), (p * g).sum()
        return (pp + gg - 2 * pg + SMOOTH) / (pp + gg - (1 + alpha) * pg + SMOOTH)
    if form == "gamma":
        c, s = boundary_counts(g)
        gamma = 1.0 - c / (s + SMOOTH)
        tp, fp, fn = (p * g).sum(), (p * (1 - g)).sum(), ((1 - p) * g).sum()
        return 1.0 - (2 * gamma * tp + SMOOTH) / (2 * gamma * tp + fp + fn + SMOOTH)
    raise ValueError(f"boundary loss form must be 'released' or 'gamma', got {form!r}")


def weighted_bce(
    probs_or_logits: torch.Tensor, target: torch.Tensor, pos_weight: float, from_logits: bool
) -> torch.Tensor:
    """Mean BCE with positive pixels weighted by pos_weight (as BCEWithLogits(pos_weight)).

    Targets are {0, 1} masks.
    """
    x, g = probs_or_logits.float(), target.float()
    if from_logits:
        weight = torch.tensor(pos_weight, device=x.device)
        return F.binary_cross_entropy_with_logits(x, g, pos_weight=weight)
    # For {0, 1} targets pos_weight is a per-pixel weight; torch's binary_cross_entropy keeps
    # p = 0 or 1 finite (log clamped at -100, gradient denominator bounded).
    return F.binary_cross_entropy(x, g, weight=1 + (pos_weight - 1) * g)


class SegmentationLoss(nn.Module):
    """bce_weight * BCE(pos_weight) + boundary_weight * L_bd.

    Defaults are SAMIHS's (0.5 / 0.5, pos_weight 2, on logits). PNS+ outputs probabilities
    (from_logits=False) and trains with BCE alone (boundary_weight 0, pos_weight 1).
    """

    def __init__(
        self,
        bce_weight: float = 0.5,
        boundary_weight: float = 0.5,
        pos_weight: float = 2.0,
        form: str = "released",
        from_logits: bool = True,
    ) -> None:
        super().__init__()
        if form not in ("released", "gamma"):
            raise ValueError(f"boundary loss form must be 'released' or 'gamma', got {form!r}")
        self.bce_weight = bce_weight
        self.boundary_weight = boundary_weight
        self.pos_weight = pos_weight
        self.form = form
        self.from_logits = from_logits

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """prediction (B, 1, H, W) logits (or probabilities), target (B, 1, H, W) {0, 1}."""
        with torch.autocast(prediction.device.type, enabled=False):
            loss = prediction.new_zeros((), dtype=torch.float32)
            if self.bce_weight:
                loss = loss + self.bce_weight * weighted_bce(
                    prediction, target, self.pos_weight, self.from_logits
                )
            if self.boundary_weight:
                probs = prediction.float().sigmoid() if self.from_logits else prediction.float()
                loss = loss + self.boundary_weight * boundary_dou_loss(probs, target, self.form)
        return loss


def tversky_loss(
    probs: torch.Tensor, target: torch.Tensor, alpha: float = 0.5, beta: float = 0.5
) -> torch.Tensor:
    """1 - TP / (TP + alpha FP + beta FN) over the whole batch (alpha = beta = 0.5: soft Dice)."""
    p, g = probs.float(), target.float()
    tp, fp, fn = (p * g).sum(), (p * (1 - g)).sum(), ((1 - p) * g).sum()
    return 1.0 - (tp + SMOOTH) / (tp + alpha * fp + beta * fn + SMOOTH)


class BceTverskyLoss(nn.Module):
    """AutoSAM's loss on mask logits (B, 1, H, W): bce_weight * BCE + tversky_weight * Tversky."""

    def __init__(
        self,
        bce_weight: float = 0.5,
        tversky_weight: float = 0.5,
        alpha: float = 0.5,
        beta: float = 0.5,
    ) -> None:
        super().__init__()
        self.bce_weight, self.tversky_weight = bce_weight, tversky_weight
        self.alpha, self.beta = alpha, beta

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(logits.device.type, enabled=False):
            x, g = logits.float(), target.float()
            bce = F.binary_cross_entropy_with_logits(x, g)
            tversky = tversky_loss(x.sigmoid(), g, self.alpha, self.beta)
            return self.bce_weight * bce + self.tversky_weight * tversky
