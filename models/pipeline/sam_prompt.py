"""SAM prompts as tensors, in the keyword form `SAMIHS.decode` takes.

boxes (N, 4), points (N, 1, 2) + labels (N, 1), mask (1, 1, M, M), in SAM input pixel indices
(the encoder adds 0.5; see `Prompts.as_pixel_indices`). Graph back ends turn this into SAM's
ONNX point form (engine/sam_prompts.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..prompts import Prompts

PAD_LABEL = -1  # SAM's "not a point" label: a padding point that prompts nothing


@dataclass(frozen=True)
class SamPrompt:
    """Prompts of one image's N components for SAM, on one device (keyword form)."""

    count: int
    boxes: torch.Tensor | None  # (N, 4) float32
    points: torch.Tensor | None  # (N, 1, 2) float32
    labels: torch.Tensor | None  # (N, 1)
    mask: torch.Tensor | None  # (1, 1, M, M) float32 logits, shared by the N components

    @classmethod
    def from_prompts(
        cls, prompts: Prompts, device: torch.device | str, use_box: bool = True
    ) -> SamPrompt:
        """Tensors of `prompts` (any space; SAM's is used), one decode per component."""
        boxes, points = prompts.to_sam().as_pixel_indices()
        box_tensor = points_tensor = labels = mask = None
        if use_box and boxes is not None:
            box_tensor = torch.tensor(boxes, device=device)
        if points is not None:
            points_tensor = torch.tensor(points, device=device).unsqueeze(1)
            labels = torch.tensor(prompts.point_labels, device=device).unsqueeze(1)
        if prompts.mask_logits is not None:
            mask = torch.tensor(prompts.mask_logits, device=device)[None, None]
        return cls(len(prompts), box_tensor, points_tensor, labels, mask)
