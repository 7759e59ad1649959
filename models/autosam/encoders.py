"""Encoders of the AutoSAM prompt network, by name: HarDNet-85 (the public AutoSAM's), a small
CNN, or an ImageNet-pretrained EfficientNet-Lite0/1/2 for CPU use. Every encoder maps SAM's
(B, 3, S, S) input to a list of feature maps, finest first, and names their widths in `channels`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..backbones import EFFICIENTNET_LITE, EfficientNetLiteTrunk
from ..samihs.cnn_encoder import SamToUnitRange
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


class LiteEncoder(nn.Module):
    """An EfficientNet-Lite trunk on SAM's input: features at strides 8, 16, 32."""

    def __init__(self, name: str, pretrained: bool = False) -> None:
        super().__init__()
        self.to_unit_range = SamToUnitRange()
        self.trunk = EfficientNetLiteTrunk(name, (8, 16, 32), pretrained)
        self.channels = self.trunk.channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.trunk(self.to_unit_range(x)))


ENCODERS: dict[str, Callable[[], nn.Module]] = {"hardnet85": HarDNet, "small_cnn": SmallCNN}


def build_encoder(name: str, pretrained: bool = False) -> nn.Module:
    """A fresh encoder from the registry; `pretrained`: with the ImageNet weights of its weights
    package (EfficientNet-Lite only; HarDNet-85 takes a checkpoint file instead).

    Raises:
      ValueError: one line, for an unknown name or `pretrained` on an encoder without a package.
    """
    if name in EFFICIENTNET_LITE:
        return LiteEncoder(name, pretrained)
    if name not in ENCODERS:
        known = ", ".join([*ENCODERS, *EFFICIENTNET_LITE])
        raise ValueError(f"unknown AutoSAM encoder {name!r}; choose one of: {known}")
    if pretrained:
        raise ValueError(
            f"AutoSAM encoder {name!r} has no bundled ImageNet weights; pass its checkpoint file "
            f"(autosam.checkpoint) or use one of {', '.join(EFFICIENTNET_LITE)}"
        )
    return ENCODERS[name]()
