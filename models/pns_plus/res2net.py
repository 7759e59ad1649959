"""Res2Net-50 v1b 26w x 4s, cut after stage 3: the backbone of the released PNS+ network.

Module names follow the public Res2Net code so that the released checkpoint's
`feature_extractor.*` keys load unchanged. Only the layers PNS+ runs are built; the checkpoint's
`layer4` and `fc` tensors are ignored by the loader.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Bottle2neck(nn.Module):
    """Res2Net bottleneck: the 3x3 stage is split into `scale` groups processed hierarchically.

    (N, in_channels, H, W) -> (N, planes * 4, H / stride, W / stride)
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        base_width: int = 26,
        scale: int = 4,
        first_of_stage: bool = False,
    ) -> None:
        super().__init__()
        width = planes * base_width // 64
        out_channels = planes * self.expansion
        self.width = width
        self.first_of_stage = first_of_stage
        self.conv1 = nn.Conv2d(in_channels, width * scale, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width * scale)
        self.convs = nn.ModuleList(
            nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            for _ in range(scale - 1)
        )
        self.bns = nn.ModuleList(nn.BatchNorm2d(width) for _ in range(scale - 1))
        # The untouched last group must be downsampled like the others in a stage's first block.
        # v1b applies this 3x3 average even at stride 1 (layer1), so it is not an identity there.
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1) if first_of_stage else None
        self.conv3 = nn.Conv2d(width * scale, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            # v1b shortcut: average-pool then 1x1 conv (index 0 is the pool, so the checkpoint's
            # keys are `downsample.1` and `downsample.2`).
            pool: nn.Module = (
                nn.AvgPool2d(stride, stride=stride, ceil_mode=True, count_include_pad=False)
                if stride != 1
                else nn.Identity()
            )
            self.downsample = nn.Sequential(
                pool,
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.split(F.relu(self.bn1(self.conv1(x))), self.width, dim=1)
        outputs = []
        running = groups[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            # Within a stage's first block the groups are independent (their resolution changes);
            # elsewhere each group also sees the previous group's output.
            group_in = groups[i] if (i == 0 or self.first_of_stage) else running + groups[i]
            running = F.relu(bn(conv(group_in)))
            outputs.append(running)
        last = groups[-1] if self.pool is None else self.pool(groups[-1])
        out = self.bn3(self.conv3(torch.cat([*outputs, last], dim=1)))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class Res2NetV1bTrunk(nn.Module):
    """Res2Net v1b (deep stem) up to stage 3.

    (N, 3, H, W) -> stage 2 (N, 512, H/8, W/8), stage 3 (N, 1024, H/16, W/16)
    """

    low_channels = 512
    high_channels = 1024

    def __init__(
        self, layers: tuple[int, int, int] = (3, 4, 6), base_width: int = 26, scale: int = 4
    ) -> None:
        super().__init__()
        # v1b "deep stem": three 3x3 convs instead of one 7x7; the last BN is `bn1`.
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 32, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=1, padding=1, bias=False),
        )
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = 64
        stages = []
        for planes, blocks, stride in zip((64, 128, 256), layers, (1, 2, 2), strict=True):
            stage = [Bottle2neck(in_channels, planes, stride, base_width, scale, True)]
            in_channels = planes * Bottle2neck.expansion
            stage += [
                Bottle2neck(in_channels, planes, 1, base_width, scale) for _ in range(1, blocks)
            ]
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3 = stages
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        stage2 = self.layer2(self.layer1(x))
        return stage2, self.layer3(stage2)
