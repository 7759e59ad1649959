"""SAM's ViT image encoder with a PR adapter before MHA and before MLP in every block.

Built from segment-anything's own modules (Block, PatchEmbed, LayerNorm2d, window helpers), so a
model whose adapters are the identity computes exactly what SAM computes.
"""

from __future__ import annotations

from functools import partial

import torch
from segment_anything.modeling.common import LayerNorm2d
from segment_anything.modeling.image_encoder import (
    Block,
    PatchEmbed,
    window_partition,
    window_unpartition,
)
from torch import nn

from .adapter import PRAdapter, SharedProjection


class AdapterBlock(Block):
    """A SAM ViT block with PR adapters after `norm1` (before MHA) and `norm2` (before MLP).

    `released_window_order=True` reproduces the public SAMIHS code, which partitions windows
    before `norm1`; it differs from SAM only on the padding tokens of windowed blocks.
    """

    def __init__(self, *args, adapter_dim: int, released_window_order: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        dim = self.norm1.normalized_shape[0]
        self.attn_adapter = PRAdapter(dim, adapter_dim)
        self.mlp_adapter = PRAdapter(dim, adapter_dim)
        self.released_window_order = released_window_order

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, attn_projection: SharedProjection, mlp_projection: SharedProjection
    ) -> torch.Tensor:
        """x: (B, H, W, dim) -> (B, H, W, dim)."""
        shortcut = x
        height, width = x.shape[1], x.shape[2]
        windowed = self.window_size > 0
        if windowed and self.released_window_order:
            x, padded_hw = window_partition(x, self.window_size)
        x = self.attn_adapter(self.norm1(x), attn_projection)
        if windowed and not self.released_window_order:
            x, padded_hw = window_partition(x, self.window_size)
        x = self.attn(x)
        if windowed:
            x = window_unpartition(x, self.window_size, padded_hw, (height, width))
        x = shortcut + x
        return x + self.mlp(self.mlp_adapter(self.norm2(x), mlp_projection))


class SAMIHSImageEncoder(nn.Module):
    """ViT image encoder of SAM with shared-projection PR adapters.

    Parameter names follow SAM's `ImageEncoderViT`, plus `att_down_projection` /
    `mlp_down_projection` as in the public SAMIHS code (and `*_up_projection` when untied).
    """

    def __init__(
        self,
        img_size: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        global_attn_indexes: tuple[int, ...],
        window_size: int,
        adapter_dim: int,
        tied: bool = True,
        released_window_order: bool = False,
        patch_size: int = 16,
        out_chans: int = 256,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        if img_size % patch_size:
            raise ValueError(f"image size {img_size} is not a multiple of the patch {patch_size}")
        self.img_size = img_size
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(
            kernel_size=(patch_size, patch_size),
            stride=(patch_size, patch_size),
            in_chans=3,
            embed_dim=embed_dim,
        )
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim))
        self.attn_projection = SharedProjection(embed_dim, adapter_dim, tied)
        self.mlp_projection = SharedProjection(embed_dim, adapter_dim, tied)
        self.blocks = nn.ModuleList(
            AdapterBlock(
                dim=embed_dim,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=True,
                norm_layer=partial(nn.LayerNorm, eps=1e-6),
                act_layer=nn.GELU,
                use_rel_pos=True,
                rel_pos_zero_init=True,
                window_size=0 if i in global_attn_indexes else window_size,
                input_size=(grid, grid),
                adapter_dim=adapter_dim,
                released_window_order=released_window_order,
            )
            for i in range(depth)
        )
        self.neck = nn.Sequential(
            nn.Conv2d(embed_dim, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, S, S) preprocessed -> embeddings (B, out_chans, S/16, S/16)."""
        x = self.patch_embed(x) + self.pos_embed
        for block in self.blocks:
            x = block(x, self.attn_projection, self.mlp_projection)
        return self.neck(x.permute(0, 3, 1, 2))
