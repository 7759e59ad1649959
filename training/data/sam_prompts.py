"""SAM prompts of training samples, from the ground truth or from saved PNS+ maps.

Validation and inference do not use these: they run the inference sequence (models.pipeline),
which prompts SAM once per component.

All coordinates are in SAM's input space (the frame resized so its longest side is `image_size`,
padded bottom/right) in the pixel-index convention of SAM's prompt encoder, which adds 0.5.
Every sample carries one point (label 1, or -1 = SAM's padding token when there is none) and one
box, so samples batch into fixed shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.pipeline import PAD_LABEL
from models.prompts import PromptConfig, prompts_from_probability


@dataclass(frozen=True)
class PromptSettings:
    """Which prompts a SAMIHS sample gets.

    source: "gt" (a foreground pixel and the mask's box, jittered when training) or "pns"
      (the largest component of a saved PNS+ map, see map_prompt).
    use_point, use_box, use_mask: prompt types passed to SAM (mask only with source "pns").
    box_jitter: each box side moves by up to this fraction of the box size (training, gt only).
    pns: threshold and component settings for source "pns" (models.prompts.PromptConfig).
    """

    source: str = "gt"
    use_point: bool = True
    use_box: bool = True
    use_mask: bool = False
    box_jitter: float = 0.1
    pns: PromptConfig = field(default_factory=PromptConfig)


@dataclass
class SamplePrompt:
    """point (1, 2) float32, point_label (1,) int64, box (4,) float32, mask (M, M) or None;
    found: False for the stand-in prompt of a frame with nothing to point at."""

    point: np.ndarray
    point_label: np.ndarray
    box: np.ndarray
    mask: np.ndarray | None = None
    found: bool = True


def gt_prompt(
    mask_sam: np.ndarray,
    valid_hw: tuple[int, int],
    rng: np.random.Generator | None,
    box_jitter: float,
) -> SamplePrompt:
    """Prompt from a mask already in SAM input space (S, S) {0, 1}.

    Training (rng given): a uniformly random foreground pixel and the mask's box with each side
    jittered by up to `box_jitter` of the box size. Validation (rng None): the middle foreground
    pixel in raster order (the released SAMIHS test prompt) and the exact box.
    No foreground: a padding point and the whole-image box (the target is then empty).
    """
    height, width = valid_hw
    rows, cols = np.nonzero(mask_sam)
    if rows.size == 0:
        return SamplePrompt(
            np.zeros((1, 2), np.float32),
            np.array([PAD_LABEL]),
            np.array([0, 0, width - 1, height - 1], np.float32),
            found=False,
        )
    pick = int(rng.integers(rows.size)) if rng is not None else rows.size // 2
    point = np.array([[cols[pick], rows[pick]]], np.float32)
    box = np.array([cols.min(), rows.min(), cols.max(), rows.max()], np.float32)
    if rng is not None and box_jitter > 0:
        size = np.array([box[2] - box[0] + 1, box[3] - box[1] + 1] * 2, np.float32)
        box = box + rng.uniform(-box_jitter, box_jitter, 4).astype(np.float32) * size
        box = np.clip(box, 0, [width - 1, height - 1, width - 1, height - 1])
        box[[0, 2]] = np.sort(box[[0, 2]])
        box[[1, 3]] = np.sort(box[[1, 3]])
    return SamplePrompt(point, np.array([1]), box.astype(np.float32))


def map_prompt(
    prob_map: np.ndarray, frame_size: tuple[int, int], image_size: int, settings: PromptSettings
) -> SamplePrompt | None:
    """A training sample's prompt from a PNS+ map; None if no component.

    A sample holds one sparse prompt (so samples batch): the largest component's box and peak
    point. The dense mask prompt (if used) holds every component, as at inference.
    """
    config = settings.pns
    prompts = prompts_from_probability(prob_map, frame_size, image_size, config)
    if prompts.empty:
        return None
    boxes, points = prompts.as_pixel_indices()
    point = np.zeros((1, 2), np.float32) if points is None else points[:1].astype(np.float32)
    label = np.array([1 if points is not None else PAD_LABEL])
    box = np.zeros(4, np.float32) if boxes is None else boxes[0].astype(np.float32)
    return SamplePrompt(point, label, box, prompts.mask_logits)


def empty_mask_prompt(image_size: int, clip: float) -> np.ndarray:
    """The dense prompt of a map with no component: every low-res pixel at -clip."""
    side = image_size // 4
    return np.full((side, side), -clip, np.float32)
