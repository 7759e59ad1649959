"""Parameter-Refactoring (PR) adapter of SAMIHS.

`out = x + (x @ (W_down * r_l)) @ W_up + b_l`, with `W_down` (dim x c') shared by all blocks at one
position (before MHA, or before MLP), `W_up = W_down^T` when tied (the released code) or a second
shared matrix when untied (the paper's formula), and a per-block scale `r_l` (1 x c') and shift
`b_l` (dim). `r_l` and `b_l` start at zero, so a fresh adapter is exactly the identity.
"""

from __future__ import annotations

import torch
from torch import nn


class SharedProjection(nn.Module):
    """The projection(s) one adapter position shares across all blocks."""

    def __init__(self, dim: int, adapter_dim: int, tied: bool = True) -> None:
        super().__init__()
        self.down = nn.Parameter(torch.empty(dim, adapter_dim))
        nn.init.xavier_uniform_(self.down)
        self.up: nn.Parameter | None = None
        if not tied:
            self.up = nn.Parameter(torch.empty(adapter_dim, dim))
            nn.init.xavier_uniform_(self.up)

    def up_matrix(self) -> torch.Tensor:
        return self.down.t() if self.up is None else self.up


class PRAdapter(nn.Module):
    """Per-block scale and shift applied through a shared projection."""

    def __init__(self, dim: int, adapter_dim: int) -> None:
        super().__init__()
        self.adapter_rescale = nn.Parameter(torch.zeros(1, adapter_dim))
        self.adapter_bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor, projection: SharedProjection) -> torch.Tensor:
        """x: (..., dim) -> (..., dim)."""
        down = x @ (projection.down * self.adapter_rescale)
        return x + down @ projection.up_matrix() + self.adapter_bias
