"""An ImageNet-pretrained EfficientNet-Lite trunk in the shape PNS+ expects of a backbone."""

from __future__ import annotations

import torch
from torch import nn

from models.backbones import EfficientNetLiteTrunk


class LiteTrunk(nn.Module):
    """(N, 3, H, W) in [0, 1], RGB -> stride-8 and stride-16 features (`low_channels`,
    `high_channels` wide); the trunk normalises for its weights itself."""

    def __init__(self, name: str, pretrained: bool = False) -> None:
        super().__init__()
        self.trunk = EfficientNetLiteTrunk(name, (8, 16), pretrained)
        self.low_channels, self.high_channels = self.trunk.channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = self.trunk(x)
        return low, high
