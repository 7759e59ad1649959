"""A SAM image encoder built on an ImageNet-pretrained CNN, for CPU-speed models.

SAM's prompt encoder and mask decoder take a (B, 256, S/16, S/16) image embedding; here it comes
from an EfficientNet-Lite trunk (strides 8, 16, 32) merged at stride 16 by a small feature
pyramid and SAM's own neck (1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d). It is not the paper's
encoder (ViT-B with PR adapters on SAM's weights): a ViT trained from scratch on ~1,500 polyp
images does not learn to see polyps, a pretrained CNN does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from torch import nn

from models.backbones import EfficientNetLiteTrunk

from .fine_features import pack_fine
from .transforms import SAM_PIXEL_MEAN, SAM_PIXEL_STD

PYRAMID_STRIDES = (8, 16, 32)


class SamToUnitRange(nn.Module):
    """SAM-normalised (B, 3, S, S) -> [0, 1] RGB, the input an EfficientNet-Lite trunk expects
    (it normalises for its own weights). No state-dict keys: its constants are not weights."""

    def __init__(self) -> None:
        super().__init__()
        std = torch.tensor(SAM_PIXEL_STD).view(1, 3, 1, 1) / 255.0
        mean = torch.tensor(SAM_PIXEL_MEAN).view(1, 3, 1, 1) / 255.0
        self.register_buffer("scale", std, persistent=False)
        self.register_buffer("shift", mean, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class CNNImageEncoder(nn.Module):
    """(B, 3, S, S) SAM-normalised -> (B, out_chans, S/16, S/16).

    The input is mapped back to [0, 1] RGB (the trunk normalises for its own weights), so the
    frame preprocessing stays SAM's for every variant.
    """

    def __init__(
        self,
        backbone: str,
        out_chans: int = 256,
        pyramid_dim: int = 128,
        pretrained: bool = False,
        fine_dim: int = 0,
    ) -> None:
        """fine_dim > 0: also the trunk's stride-4 features, projected to fine_dim channels and
        packed after the embedding's channels (fine_features.py)."""
        super().__init__()
        strides = ((4,) if fine_dim else ()) + PYRAMID_STRIDES
        self.trunk = EfficientNetLiteTrunk(backbone, strides, pretrained)
        pyramid_channels = self.trunk.channels[-len(PYRAMID_STRIDES):]
        self.lateral = nn.ModuleList(nn.Conv2d(c, pyramid_dim, 1) for c in pyramid_channels)
        self.fine = nn.Conv2d(self.trunk.channels[0], fine_dim, 1) if fine_dim else None
        self.neck = nn.Sequential(
            nn.Conv2d(pyramid_dim, out_chans, 1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )
        self.to_unit_range = SamToUnitRange()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *stride4, stride8, middle, coarse = self.trunk(self.to_unit_range(x))
        size = middle.shape[-2:]
        merged = self.lateral[1](middle)
        # Stride 8 is pooled down and stride 32 upsampled onto the stride-16 grid SAM expects.
        merged = merged + F.avg_pool2d(self.lateral[0](stride8), 2)
        merged = merged + F.interpolate(
            self.lateral[2](coarse), size=size, mode="bilinear", align_corners=False
        )
        embedding = self.neck(merged)
        if self.fine is None:
            return embedding
        return pack_fine(embedding, self.fine(stride4[0]))
