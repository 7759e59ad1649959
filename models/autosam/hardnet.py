"""HarDNet-85 (Chao et al., ICCV 2019), the encoder of the public AutoSAM, in plain PyTorch.

Harmonic dense blocks: layer k takes the outputs of layers k - 2^i (for every 2^i dividing k);
its width is growth * grmul^(links - 1), rounded to an even number. A block outputs the
concatenation of its odd layers and its last layer. The stage layout (widths, growth rates,
depths, where to downsample) is HarDNet-85's as published; no pretrained weights ship with it.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_layer(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv (no bias) + BatchNorm + ReLU6, named as HarDNet's ConvLayer (conv, norm, relu)."""
    layer = nn.Sequential()
    layer.add_module("conv", nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False))
    layer.add_module("norm", nn.BatchNorm2d(out_ch))
    layer.add_module("relu", nn.ReLU6(inplace=True))
    return layer


def harmonic_link(layer: int, base_ch: int, growth: int, grmul: float) -> tuple[int, int, list]:
    """(out_channels, in_channels, linked layers) of layer `layer` of a harmonic dense block."""
    if layer == 0:
        return base_ch, 0, []
    out_ch: float = growth
    links = []
    for i in range(10):
        step = 2**i
        if layer % step == 0:
            links.append(layer - step)
            if i > 0:
                out_ch *= grmul
    out = int(int(out_ch + 1) / 2) * 2
    in_ch = sum(harmonic_link(k, base_ch, growth, grmul)[0] for k in links)
    return out, in_ch, links


class HarDBlock(nn.Module):
    """One harmonic dense block; (B, in_ch, H, W) -> (B, out_channels, H, W)."""

    def __init__(self, in_ch: int, n_layers: int, growth: int, grmul: float) -> None:
        super().__init__()
        self.links: list[list[int]] = []
        layers = []
        self.out_channels = 0
        for i in range(n_layers):
            out_ch, link_ch, links = harmonic_link(i + 1, in_ch, growth, grmul)
            self.links.append(links)
            layers.append(conv_layer(link_ch, out_ch))
            if i % 2 == 0 or i == n_layers - 1:
                self.out_channels += out_ch
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for layer, links in zip(self.layers, self.links, strict=True):
            inputs = [outputs[k] for k in links]
            outputs.append(layer(torch.cat(inputs, 1) if len(inputs) > 1 else inputs[0]))
        last = len(outputs) - 1
        return torch.cat([o for i, o in enumerate(outputs) if i == last or i % 2 == 1], 1)


# HarDNet-85: stem widths, stage output widths, growth rates, depths, downsample after stage.
HARDNET85 = {
    "stem": (48, 96),
    "widths": (192, 256, 320, 480, 720, 1280),
    "growth": (24, 24, 28, 36, 48, 256),
    "depths": (8, 16, 16, 16, 16, 4),
    "down": (True, False, True, False, True, False),
    "grmul": 1.7,
}


class HarDNet(nn.Module):
    """HarDNet feature extractor (no classifier, 35.4M parameters for HarDNet-85).

    Input (B, 3, H, W), H and W multiples of 32. Returns the outputs of the stages without
    pooling: strides 8, 16, 32, widths `channels` (HarDNet-85: 256, 480, 1280).
    `base` is laid out as the public HarDNet's, so its ImageNet state_dict keys (`base.N...`,
    classifier dropped) load as they are.
    """

    def __init__(self, spec: dict = HARDNET85) -> None:
        super().__init__()
        stem = spec["stem"]
        base: list[nn.Module] = [
            conv_layer(3, stem[0], 3, 2),
            conv_layer(stem[0], stem[1]),
            nn.MaxPool2d(3, 2, 1),
        ]
        taps, channels, ch = [], [], stem[1]
        stages = zip(spec["widths"], spec["growth"], spec["depths"], spec["down"], strict=True)
        for index, (width, growth, depth, down) in enumerate(stages):
            block = HarDBlock(ch, depth, growth, spec["grmul"])
            base.append(block)
            if index == len(spec["widths"]) - 1:
                base.append(nn.Dropout(0.1))  # HarDNet-85's, kept for the index layout
            base.append(conv_layer(block.out_channels, width, 1))
            ch = width
            if down:
                base.append(nn.MaxPool2d(2, 2))
            else:  # a stage without pooling ends a resolution level
                taps.append(len(base) - 1)
                channels.append(width)
        self.base = nn.ModuleList(base)
        self.taps = tuple(taps)
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for index, layer in enumerate(self.base):
            x = layer(x)
            if index in self.taps:
                features.append(x)
        return features
