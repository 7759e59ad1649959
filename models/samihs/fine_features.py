"""Stride-4 trunk features for SAM's mask decoder (CNN variants, `SAMIHSConfig.fine_dim`).

SAM's decoder sees the image only through its stride-16 embedding (16x16 for a 256 input) and
upsamples 4x by transposed convolutions, so a mask boundary has to be guessed from cells 16 pixels
wide. As in HQ-SAM, early high-resolution features are added to the decoder's upscaled
embedding before the mask tokens' dot product. The encoder packs them onto the embedding's grid
(pixel-unshuffle by FINE_PACKING) so the encoder -> decoder seam stays one tensor; the decoder
unpacks them. The last convolution starts at zero: a model grown from one without fine features
computes exactly what that model did until training moves it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segment_anything.modeling.common import LayerNorm2d
from torch import nn

from .config import FINE_PACKING


def pack_fine(embedding: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
    """(B, C, g, g) embedding and (B, F, 4g, 4g) features -> (B, C + 16F, g, g)."""
    return torch.cat([embedding, F.pixel_unshuffle(fine, FINE_PACKING)], dim=1)


def unpack_fine(packed: torch.Tensor, channels: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The inverse of pack_fine: (embedding (B, C, g, g), features (B, F, 4g, 4g) or None)."""
    if packed.shape[1] == channels:
        return packed, None
    return packed[:, :channels], F.pixel_shuffle(packed[:, channels:], FINE_PACKING)


class FineFeatureDecoder(nn.Module):
    """(B, F, 4g, 4g) features -> (B, D, 4g, 4g) added to SAM's upscaled embedding (D = 32)."""

    def __init__(self, fine_dim: int, out_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(fine_dim, out_dim, 3, padding=1),
            LayerNorm2d(out_dim),
            nn.GELU(),
            nn.Conv2d(out_dim, out_dim, 1),
        )
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)

    def forward(self, fine: torch.Tensor) -> torch.Tensor:
        return self.layers(fine)
