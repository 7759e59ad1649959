"""Normalized self-attention (NS) block of PNS+."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from models.pns_plus.window_attention import ns_window_attention


def _pointwise(conv: nn.Conv3d, frames: torch.Tensor) -> torch.Tensor:
    """Applies a 1x1x1 Conv3d frame by frame: (B, T, C_in, h, w) -> (B, T, C_out, h, w)."""
    b, t = frames.shape[:2]
    out = F.conv2d(frames.flatten(0, 1), conv.weight[:, :, 0])
    return out.unflatten(0, (b, t))


class NSBlock(nn.Module):
    """Query frames attend to dilated windows in the context frames, head by head.

    Module names (`output_Linear`, `bn` for a LayerNorm) are those of the released checkpoint.
    The projections are 1x1x1 Conv3d there; they are stored as such and applied as 1x1 Conv2d.
    """

    def __init__(
        self,
        channels: int = 32,
        heads: int = 4,
        head_dim: int = 8,
        radius: int = 3,
        dilations: Sequence[int] = (1, 2, 1, 2),
        feature_size: tuple[int, int] = (16, 28),
    ) -> None:
        super().__init__()
        if len(dilations) != heads:
            raise ValueError(f"need one dilation per head ({heads}), got {list(dilations)}")
        self.heads = heads
        self.head_dim = head_dim
        self.radius = radius
        self.dilations = tuple(dilations)
        self.query_conv = nn.Conv3d(channels, heads * head_dim, 1, bias=False)
        self.key_conv = nn.Conv3d(channels, heads * head_dim, 1, bias=False)
        self.value_conv = nn.Conv3d(channels, heads * head_dim, 1, bias=False)
        self.output_Linear = nn.Conv3d(heads * head_dim, channels, 1, bias=False)
        # One LayerNorm shared by the heads, over (head_dim, h, w) of the query only: its affine
        # parameters have the feature map's shape, which ties the block to one input size.
        self.bn = nn.LayerNorm([head_dim, *feature_size])

    def forward(self, query_frames: torch.Tensor, context_frames: torch.Tensor) -> torch.Tensor:
        """query_frames (B, Tq, C, h, w), context_frames (B, T, C, h, w) -> (B, Tq, C, h, w)."""
        query = _pointwise(self.query_conv, query_frames)
        b, tq, _, h, w = query.shape
        query = self.bn(query.reshape(b, tq, self.heads, self.head_dim, h, w)).flatten(2, 3)
        key = _pointwise(self.key_conv, context_frames)
        value = _pointwise(self.value_conv, context_frames)
        aggregated, gate = ns_window_attention(query, key, value, self.radius, self.dilations)
        return _pointwise(self.output_Linear, aggregated) * gate.unsqueeze(2)
