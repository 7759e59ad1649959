"""Causal PNS+ for a live stream: each new frame costs one backbone pass plus a small head."""

from __future__ import annotations

from collections import deque

import torch

from models.pns_plus.network import CLIP_FRAMES, FrameFeatures, PNSPlus


class StreamingPNS:
    """Keeps the anchor's features and a ring buffer of the last 5 frames' features.

    The output for frame t equals PNSPlus.forward on (anchor, t-4, ..., t) at index 4; before
    frame 4 the window is padded by repeating the stream's earliest frame. The anchor is the
    stream's first frame until refresh_anchor(). The model is put in eval mode.
    """

    def __init__(self, model: PNSPlus) -> None:
        self.model = model.eval()
        self._anchor_high: torch.Tensor | None = None
        self._recent: deque[FrameFeatures] = deque(maxlen=CLIP_FRAMES)

    @property
    def frames_in_buffer(self) -> int:
        """Number of real (not padded) frames in the window, 0 after reset()."""
        return len(self._recent)

    def push(self, frame: torch.Tensor) -> torch.Tensor:
        """Adds the newest frame and returns its probability map.

        Arguments:
          frame: (3, H, W) or (1, 3, H, W) float in [0, 1], RGB, at the model's input size
            (see frame_to_input).
        Returns:
          (1, 1, H, W) polyp probabilities of this frame.
        """
        if frame.dim() == 3:
            frame = frame.unsqueeze(0)
        if frame.dim() != 4 or frame.shape[0] != 1:
            raise ValueError(
                f"StreamingPNS takes one frame, (3, H, W) or (1, 3, H, W); got {tuple(frame.shape)}"
            )
        reference = next(self.model.parameters())
        frame = frame.to(device=reference.device, dtype=reference.dtype)
        with torch.inference_mode():
            features = self.model.encode_frame(frame)
            if not self._recent:
                # Start of stream: pad the window with the earliest frame, as offline inference
                # would if the clip began before the video.
                self._recent.extend([features] * CLIP_FRAMES)
            else:
                self._recent.append(features)
            if self._anchor_high is None:
                self._anchor_high = features.high
            recent = FrameFeatures(
                low=torch.stack([f.low for f in self._recent], dim=1),
                high=torch.stack([f.high for f in self._recent], dim=1),
            )
            return self.model.temporal_head(self._anchor_high, recent)

    def reset(self) -> None:
        """Forgets the stream (new source): the next frame becomes anchor and fills the window."""
        self._anchor_high = None
        self._recent.clear()

    def refresh_anchor(self) -> None:
        """Makes the newest frame the anchor for the frames that follow (no backbone call).

        Before any frame, the next frame becomes the anchor, as after reset().
        """
        self._anchor_high = self._recent[-1].high if self._recent else None
