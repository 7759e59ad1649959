"""SAM prompts as tensors, in the two forms the back ends take.

- Keyword form (PyTorch): boxes (N, 4), points (N, 1, 2) + labels (N, 1), mask (1, 1, M, M), as
  `SAMIHS.decode` takes them.
- Point form (ONNX / TensorRT), as SAM's own ONNX export: every prompt is a list of labelled
  points, coords (N, P, 2) and labels (N, P): 1 = foreground point, -1 = padding point, 2 / 3 =
  a box's top-left / bottom-right corner; plus mask_input (1, 1, M, M) and has_mask_input (1,).
Both are in SAM input pixel indices (the encoder adds 0.5; see `Prompts.as_pixel_indices`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from models.prompts import Prompts

PAD_LABEL = -1.0
BOX_LABELS = (2.0, 3.0)


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
        """Tensors of `prompts` (in "sam" space), as PolypSegmenter passes them to SAMIHS."""
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


def to_point_form(
    prompt: SamPrompt, mask_size: int, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(coords (N, P, 2), labels (N, P), mask_input (1, 1, M, M), has_mask_input (1,)), float32.

    The order reproduces SAM's PromptEncoder: points first, a padding point when there is no
    box, then the box corners; no sparse prompt at all gives P = 0.
    """
    reference = next(t for t in (prompt.boxes, prompt.points, prompt.mask) if t is not None)
    device = reference.device if device is None else device
    n = prompt.count
    coords, labels = [], []
    if prompt.points is not None:
        coords.append(prompt.points.float())
        labels.append(prompt.labels.float().reshape(n, -1))
        if prompt.boxes is None:
            coords.append(torch.zeros(n, 1, 2, device=device))
            labels.append(torch.full((n, 1), PAD_LABEL, device=device))
    if prompt.boxes is not None:
        coords.append(prompt.boxes.float().reshape(n, 2, 2))
        labels.append(torch.tensor([BOX_LABELS], device=device).expand(n, 2))
    if coords:
        point_coords = torch.cat(coords, dim=1).to(device)
        point_labels = torch.cat(labels, dim=1).to(device)
    else:
        point_coords = torch.zeros(n, 0, 2, device=device)
        point_labels = torch.zeros(n, 0, device=device)
    if prompt.mask is None:
        mask_input = torch.zeros(1, 1, mask_size, mask_size, device=device)
        has_mask = torch.zeros(1, device=device)
    else:
        mask_input = prompt.mask.float().to(device)
        has_mask = torch.ones(1, device=device)
    return point_coords.contiguous(), point_labels.contiguous(), mask_input, has_mask
