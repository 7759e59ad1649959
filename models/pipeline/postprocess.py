"""The postprocess stage: SAM's low-res logits -> probability and mask in the frame's size, then
the presence hysteresis that keeps masks steady across frames (smoothing.py), when configured.

A per-stream object: reset() on a new stream or a cut.
"""

from __future__ import annotations

import numpy as np
import torch

from ..samihs import FrameGeometry, probability_in_frame
from .smoothing import PresenceHysteresis, SmoothingConfig

MASK_THRESHOLD = 0.5  # the model's own mask: probability > this


class Postprocess:
    """Maps logits back to the frame; frames where SAM was skipped get all-zero probability.
    With `smoothing`, a short miss shows the last mask (held) and a faint one-frame detection
    is not shown (PresenceHysteresis)."""

    def __init__(self, smoothing: SmoothingConfig | None = None) -> None:
        self.hysteresis = PresenceHysteresis(smoothing) if smoothing is not None else None
        self.held = False  # whether the last frame's result was held over a miss

    def reset(self) -> None:
        """Starts a new stream."""
        if self.hysteresis is not None:
            self.hysteresis.reset()
        self.held = False

    def __call__(
        self,
        logits: torch.Tensor | None,
        geometry: FrameGeometry | None,
        frame_size: tuple[int, int],
        score: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(probability (H, W) float32, mask (H, W) bool) for logits (1, 1, h, w) or None;
        score: the frame's best prompt-component score (0 when none)."""
        if logits is None or geometry is None:
            probability = np.zeros(frame_size, np.float32)
        else:
            probability = probability_in_frame(logits, geometry)
        if self.hysteresis is not None:
            smoothed = self.hysteresis(probability, logits is not None, score)
            probability, self.held = smoothed.probability, smoothed.held
        return probability, probability > MASK_THRESHOLD


def probability_to_grey(probability: np.ndarray) -> np.ndarray:
    """(H, W) probabilities -> uint8 grey (255 = 1.0): the quantisation of every saved map."""
    scaled = np.asarray(probability, np.float32) * np.float32(255.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
