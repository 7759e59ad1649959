"""ResNet-18 cut after stage 3: the light backbone for CPU-speed PNS+ variants.

Measured on 2 CPU threads at 256x448 it runs in about a quarter of Res2Net-50's time. Module
names are torchvision's, so an ImageNet ResNet-18 state_dict (minus `layer4`/`fc`) fits it.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18


class ResNet18Trunk(nn.Module):
    """(N, 3, H, W) -> stage 2 (N, 128, H/8, W/8), stage 3 (N, 256, H/16, W/16)"""

    low_channels = 128
    high_channels = 256

    def __init__(self) -> None:
        super().__init__()
        full = resnet18(weights=None)
        self.conv1 = full.conv1
        self.bn1 = full.bn1
        self.relu = full.relu
        self.maxpool = full.maxpool
        self.layer1 = full.layer1
        self.layer2 = full.layer2
        self.layer3 = full.layer3

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        stage2 = self.layer2(self.layer1(x))
        return stage2, self.layer3(stage2)
