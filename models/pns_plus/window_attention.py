"""Dilated window attention of PNS+'s normalized self-attention block, in plain PyTorch.

The released network computes it in a custom CUDA kernel; this is the same arithmetic written as
a gather of every pixel's windows (row indices precomputed per size and dilations) and two batched
matrix products, so it runs on CPU and GPU, has autograd, and exports to ONNX as a handful of
nodes (Transpose, Pad, Gather, MatMul, Softmax, ReduceMax) instead of one Slice per offset.
Semantics kept from the kernel (the released weights were trained with them):
  * a window position outside the frame gets logit 0 (as if the keys were zero-padded), and that
    0 still takes part in the softmax;
  * values outside the frame contribute 0;
  * values are aggregated with the scaled raw logits, not with the softmax; the softmax only
    yields a gate: the largest probability over all heads and window positions of a pixel.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import torch


@functools.lru_cache(maxsize=32)
def window_index(
    batch: int,
    height: int,
    width: int,
    radius: int,
    dilations: tuple[int, ...],
    device: torch.device,
    inference: bool = False,
) -> torch.Tensor:
    """Row indices of every pixel's dilated windows in a table of (batch, head, pixel) rows.

    The table (see `_rows`) has one row per (batch item, head, pixel), row-major, plus a last row
    of zeros that every window position outside the frame points to. Returns a 1-D int64 tensor
    ordered (batch, head, y, x, dy, dx), dy and dx from -radius to radius, so that the gathered
    rows reshape to (B, heads, h*w, (2r+1)^2, ...) without a transpose. Cached per device: no copy
    to the GPU per call (which CUDA graph capture would refuse). `inference` keys the cache too: a
    tensor made under torch.inference_mode cannot be saved for a later backward pass.
    """
    # numpy, not torch: the indices are a constant, also when the caller is being traced.
    side = np.arange(-radius, radius + 1)
    ys = np.arange(height).reshape(height, 1, 1, 1)
    xs = np.arange(width).reshape(1, width, 1, 1)
    plane = height * width
    per_item = len(dilations) * plane
    heads = []
    for head, dilation in enumerate(dilations):
        rows = ys + side.reshape(1, 1, -1, 1) * dilation
        columns = xs + side.reshape(1, 1, 1, -1) * dilation
        inside = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
        heads.append(np.where(inside, rows * width + columns + head * plane, -1).ravel())
    one_item = np.concatenate(heads)
    zero_row = batch * per_item
    items = [np.where(one_item >= 0, one_item + b * per_item, zero_row) for b in range(batch)]
    return torch.from_numpy(np.concatenate(items).astype(np.int64)).to(device)


def _rows(frames: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, T, C, h, w) -> (B * heads * h*w + 1, T * d): a row per (item, head, pixel) holding that
    pixel's head channels in every frame, then one row of zeros (outside the frame)."""
    b, t, c, h, w = frames.shape
    rows = frames.reshape(b, t, heads, c // heads, h * w).permute(0, 2, 4, 1, 3)
    rows = rows.reshape(b * heads * h * w, t * (c // heads))
    return torch.cat([rows, rows.new_zeros(1, rows.shape[1])])


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
    batch, query_frames, channels, height, width = query.shape
    frames = key.shape[1]
    heads = len(dilations)
    head_dim = channels // heads
    pixels = height * width
    windows = frames * (2 * radius + 1) ** 2
    # int(): under ONNX tracing the sizes are tensors; the graph's sizes are fixed anyway.
    sizes = (int(batch), int(height), int(width))
    index = window_index(
        *sizes, radius, tuple(dilations), query.device, torch.is_inference_mode_enabled()
    )
    # Keys and values gathered apart: two contiguous results, no split copy afterwards.
    key_windows = _rows(key, heads).index_select(0, index)
    value_windows = _rows(value, heads).index_select(0, index)
    key_windows = key_windows.reshape(batch, heads, pixels, windows, head_dim)
    value_windows = value_windows.reshape(batch, heads, pixels, windows, head_dim)

    queries = query.reshape(batch, query_frames, heads, head_dim, pixels).permute(0, 2, 4, 1, 3)
    # (B, heads, h*w, Tq, d) @ (B, heads, h*w, d, T*K): one small matrix product per pixel.
    logits = torch.matmul(queries, key_windows.transpose(-1, -2)) / math.sqrt(head_dim)
    aggregated = torch.matmul(logits, value_windows)  # (B, heads, h*w, Tq, d)
    peak = logits.softmax(dim=-1).amax(dim=-1).amax(dim=1)  # (B, h*w, Tq)
    gate = peak.transpose(1, 2).reshape(batch, query_frames, height, width)
    aggregated = aggregated.permute(0, 3, 1, 4, 2)
    return aggregated.reshape(batch, query_frames, channels, height, width), gate
