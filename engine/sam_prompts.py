"""SAM prompts in the point form the graph back ends take (the keyword form PyTorch takes is
models.pipeline.sam_prompt.SamPrompt).

- Point form (ONNX / TensorRT), as SAM's own ONNX export: every prompt is a list of labelled
  points, coords (N, P, 2) and labels (N, P): 1 = foreground point, -1 = padding point, 2 / 3 =
  a box's top-left / bottom-right corner; plus mask_input (1, 1, M, M) and has_mask_input (1,).
Both are in SAM input pixel indices (the encoder adds 0.5; see `Prompts.as_pixel_indices`).
"""

from __future__ import annotations

import torch

from models.pipeline.sam_prompt import PAD_LABEL, SamPrompt

BOX_LABELS = (2.0, 3.0)


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
            labels.append(torch.full((n, 1), float(PAD_LABEL), device=device))
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


__all__ = ["BOX_LABELS", "SamPrompt", "to_point_form"]
