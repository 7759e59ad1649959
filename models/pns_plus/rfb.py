"""LightRFB: the channel reducer between the backbone and PNS+'s temporal head."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcite(nn.Module):
    """Channel gating from the global average; (N, C, H, W) -> (N, C, H, W)."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        # Indices 0 and 2 carry the checkpoint's `fc.0`/`fc.2`; hard sigmoid = ReLU6(x + 3) / 6.
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction),
            nn.ReLU(inplace=True),
            nn.Linear(channels // reduction, channels),
            nn.Hardsigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.fc(x.mean(dim=(2, 3)))
        return x * weights[:, :, None, None]


class ConvBnAct(nn.Module):
    """Conv2d (no bias) -> BatchNorm -> optional single-parameter PReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        depthwise: bool = False,
        activation: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            padding=dilation * (kernel_size - 1) // 2,
            dilation=dilation,
            groups=in_channels if depthwise else 1,
            bias=False,
        )
        self.bn = nn.BatchNorm2d(out_channels, momentum=0.01)
        self.relu = nn.PReLU() if activation else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return x if self.relu is None else self.relu(x)


def _branch(channels: int, kernel_size: int, dilation: int) -> nn.Sequential:
    """Depthwise k x k -> pointwise (PReLU) -> depthwise 3x3 with `dilation`."""
    return nn.Sequential(
        ConvBnAct(channels, channels, kernel_size, depthwise=True, activation=False),
        ConvBnAct(channels, channels, 1),
        ConvBnAct(channels, channels, 3, dilation=dilation, depthwise=True, activation=False),
    )


class LightRFB(nn.Module):
    """SE -> 1x1 reduce -> four receptive-field branches, concatenated with the input -> 1x1.

    (N, channels_in, h, w) -> (N, channels_out, h, w)
    """

    def __init__(
        self, channels_in: int = 1024, channels_mid: int = 128, channels_out: int = 32
    ) -> None:
        super().__init__()
        mid = channels_mid
        self.global_se = SqueezeExcite(channels_in)
        self.reduce = nn.Sequential(
            nn.Conv2d(channels_in, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.PReLU(mid)
        )
        # Branch 0 differs from the others: pointwise first, then one depthwise 3x3.
        self.br0 = nn.Sequential(
            ConvBnAct(mid, mid, 1),
            ConvBnAct(mid, mid, 3, depthwise=True, activation=False),
        )
        self.br1 = _branch(mid, 3, 3)
        self.br2 = _branch(mid, 5, 5)
        self.br3 = _branch(mid, 7, 7)
        self.point_global = ConvBnAct(4 * mid + channels_in, channels_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.reduce(self.global_se(x))
        # The raw input (not the SE-gated one) is concatenated, as in the released network.
        branches = [x, self.br0(reduced), self.br1(reduced), self.br2(reduced), self.br3(reduced)]
        return self.point_global(torch.cat(branches, dim=1))
