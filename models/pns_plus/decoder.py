"""PNS+ decoder: fuses the temporal high-level features with the frame's low-level features."""

from __future__ import annotations

import torch
from torch import nn


class DilatedParallelConv(nn.Module):
    """1x1 conv, then half the channels through a 3x3 conv and half through a 3x3 dilation-2 conv.

    (N, in_channels, h, w) -> (N, out_channels, h, w), batch-normalized.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        first = (out_channels + 1) // 2
        second = out_channels - first
        self.conv0 = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.conv1 = nn.Conv2d(first, first, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(second, second, 3, padding=2, dilation=2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.split = (first, second)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        near, wide = self.conv0(x).split(self.split, dim=1)
        return self.bn(torch.cat([self.conv1(near), self.conv2(wide)], dim=1))


class Decoder(nn.Module):
    """low (N, low_channels, h, w) + high (N, high_channels, h, w) -> (N, 16, h, w)."""

    def __init__(self, low_channels: int = 24, high_channels: int = 32, channels: int = 16) -> None:
        super().__init__()
        self.up2_high = DilatedParallelConv(high_channels, channels)
        self.up2_low = nn.Conv2d(low_channels, channels, 1, bias=False)
        self.up2_bn2 = nn.BatchNorm2d(channels)
        self.up2_act = nn.PReLU(channels)
        self.refine = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(),
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        fused = self.up2_high(high) + self.up2_bn2(self.up2_low(low))
        return self.refine(self.up2_act(fused))
