"""Encoders of the AutoSAM prompt network, by name: HarDNet-85 (the public AutoSAM's) or a
small CNN for CPU use. Every encoder maps (B, 3, H, W) to a list of feature maps, finest first,
and names their widths in `channels`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .hardnet import HarDNet, conv_layer


class SmallCNN(nn.Module):
    """Four stride-2 stages of two 3x3 convs (16, 32, 64, 128 wide; 0.29M parameters);
    returns the features at strides 4, 8, 16."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        stages, ch = [], 3
        for width in widths:
            stages.append(nn.Sequential(conv_layer(ch, width, 3, 2), conv_layer(width, width)))
            ch = width
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(widths[1:])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index > 0:
                features.append(x)
        return features


ENCODERS: dict[str, Callable[[], nn.Module]] = {"hardnet85": HarDNet, "small_cnn": SmallCNN}


def build_encoder(name: str) -> nn.Module:
    """A fresh encoder from the registry; ValueError (one line) for an unknown name."""
    if name not in ENCODERS:
        raise ValueError(f"unknown AutoSAM encoder {name!r}; choose one of: {', '.join(ENCODERS)}")
    return ENCODERS[name]()
