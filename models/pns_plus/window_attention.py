"""Dilated window attention of PNS+'s normalized self-attention block, in plain PyTorch.

The released network computes it in a custom CUDA kernel; this is the same arithmetic written with
zero padding and shifted slices, so it runs on CPU and GPU, has autograd, and exports to ONNX.
Semantics kept from the kernel (the released weights were trained with them):
  * a window position outside the frame gets logit 0 (as if the keys were zero-padded), and that
    0 still takes part in the softmax;
  * values outside the frame contribute 0;
  * values are aggregated with the scaled raw logits, not with the softmax; the softmax only
    yields a gate: the largest probability over all heads and window positions of a pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def dilated_windows(frames: torch.Tensor, radius: int, dilation: int) -> torch.Tensor:
    """Gathers every pixel's dilated (2r+1)^2 neighbourhood, zeros outside the frame.

    Arguments:
      frames: (B, T, C, h, w).
    Returns:
      (B, T, K, C, h, w), K = (2r+1)^2 offsets in row-major order (dy outer, dx inner), where
      [..., k, :, y, x] = frames[..., :, y + dy_k, x + dx_k].
    """
    b, t, c, h, w = frames.shape
    pad = radius * dilation
    padded = F.pad(frames.reshape(b * t, c, h, w), (pad, pad, pad, pad))
    side = 2 * radius + 1
    shifted = [
        padded[:, :, i * dilation : i * dilation + h, j * dilation : j * dilation + w]
        for i in range(side)
        for j in range(side)
    ]
    return torch.stack(shifted, dim=1).reshape(b, t, side * side, c, h, w)


def ns_window_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    radius: int,
    dilations: Sequence[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-head dilated window attention across frames, as the released PNS+ kernel does it.

    Each head i (channel slice i of width d = C / heads) lets every query pixel of every query
    frame attend to a (2r+1)^2 window dilated by dilations[i] in each of the T context frames:
    T * (2r+1)^2 logits q . k / sqrt(d).

    Arguments:
      query: (B, Tq, C, h, w), already projected (and normalized).
      key, value: (B, T, C, h, w).
    Returns:
      aggregated: (B, Tq, C, h, w), per head sum over the window of logit * value.
      gate: (B, Tq, h, w), max over heads and window positions of the softmax probabilities.
    """
    heads = len(dilations)
    head_dim = query.shape[2] // heads
    sqrt_dim = math.sqrt(head_dim)
    aggregated, peaks = [], []
    for i, dilation in enumerate(dilations):
        channels = slice(i * head_dim, (i + 1) * head_dim)
        # One gather for keys and values together: half the slicing work.
        windows = dilated_windows(
            torch.cat([key[:, :, channels], value[:, :, channels]], dim=2), radius, dilation
        )
        key_windows, value_windows = windows.split(head_dim, dim=3)
        # Broadcast multiply + sum rather than einsum: einsum becomes a batched matmul of tiny
        # (1 x d) @ (d x T*K) matrices per pixel, which is several times slower on CPU.
        query_i = query[:, :, None, None, channels]  # (B, Tq, 1, 1, d, h, w)
        logits = (query_i * key_windows.unsqueeze(1)).sum(dim=4) / sqrt_dim  # (B, Tq, T, K, h, w)
        weighted = logits.unsqueeze(4) * value_windows.unsqueeze(1)  # (B, Tq, T, K, d, h, w)
        aggregated.append(weighted.sum(dim=(2, 3)))
        probabilities = logits.flatten(2, 3).softmax(dim=2)
        peaks.append(probabilities.amax(dim=2))
    gate = torch.stack(peaks, dim=0).amax(dim=0)
    return torch.cat(aggregated, dim=2), gate
