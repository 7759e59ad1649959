"""Export-friendly wrappers around PNS+'s streaming halves: tensors in, tensors out.

They change nothing in the model; they only flatten FrameFeatures into plain tensors so that
torch.onnx.export (dynamo=False, opset 18) can trace them.
"""

from __future__ import annotations

import torch
from torch import nn

from models.pns_plus.network import FrameFeatures, PNSPlus


class FrameEncoder(nn.Module):
    """frame (N, 3, H, W) in [0, 1] -> low (N, 24, H/8, W/8), high (N, 32, H/16, W/16)."""

    def __init__(self, model: PNSPlus) -> None:
        super().__init__()
        self.model = model
        # Same mode as the model: exporters restore the wrapper's mode recursively afterwards,
        # and a wrapper left in its default training mode would switch the model to training.
        self.train(model.training)

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.encode_frame(frame)
        return features.low, features.high


class TemporalHead(nn.Module):
    """anchor_high (B, 32, h, w), recent_low (B, 5, 24, 2h, 2w), recent_high (B, 5, 32, h, w)
    -> (B, 1, H, W) probabilities of the newest (last) frame."""

    def __init__(self, model: PNSPlus) -> None:
        super().__init__()
        self.model = model
        # Same mode as the model: exporters restore the wrapper's mode recursively afterwards,
        # and a wrapper left in its default training mode would switch the model to training.
        self.train(model.training)

    def forward(
        self, anchor_high: torch.Tensor, recent_low: torch.Tensor, recent_high: torch.Tensor
    ) -> torch.Tensor:
        return self.model.temporal_head(anchor_high, FrameFeatures(recent_low, recent_high))
