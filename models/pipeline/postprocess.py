"""The postprocess stage: SAM's low-res logits -> probability and mask in the frame's size.

A per-stream object (reset() on a new stream or a cut) so that steps across frames, e.g.
temporal smoothing of the probability, belong here.
"""

from __future__ import annotations

import numpy as np
import torch

from ..samihs import FrameGeometry, probability_in_frame

MASK_THRESHOLD = 0.5  # the model's own mask: probability > this


class Postprocess:
    """Maps logits back to the frame; frames where SAM was skipped get all-zero probability."""

    def reset(self) -> None:
        """Starts a new stream (nothing is kept across frames yet)."""

    def __call__(
        self,
        logits: torch.Tensor | None,
        geometry: FrameGeometry | None,
        frame_size: tuple[int, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probability (H, W) float32, mask (H, W) bool) for logits (1, 1, h, w) or None."""
        if logits is None or geometry is None:
            probability = np.zeros(frame_size, np.float32)
        else:
            probability = probability_in_frame(logits, geometry)
        return probability, probability > MASK_THRESHOLD


def probability_to_grey(probability: np.ndarray) -> np.ndarray:
    """(H, W) probabilities -> uint8 grey (255 = 1.0): the quantisation of every saved map."""
    scaled = np.asarray(probability, np.float32) * np.float32(255.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
