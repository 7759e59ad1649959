"""The PNS+ step of the sequence: frame encoder -> feature ring -> temporal head.

Causal PNS+ for a stream: each new frame costs one backbone pass plus the small temporal head.
"""

from __future__ import annotations

import torch

from ..pns_plus import CLIP_FRAMES, PNSPlus
from .feature_ring import FeatureRing
from .runner import Runner
from .torch_runner import TorchRunner


class PnsStep:
    """Keeps the anchor's features and the last 5 frames' features in a FeatureRing.

    The output for frame t equals PNSPlus.forward on (anchor, t-4, ..., t) at index 4; before
    frame 4 the window is padded by repeating the stream's earliest frame. The anchor is the
    stream's first frame until refresh_anchor().
    """

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.ring = FeatureRing(CLIP_FRAMES)

    @property
    def frames_in_buffer(self) -> int:
        """Number of real (not padded) frames in the window, 0 after reset()."""
        return len(self.ring)

    def __call__(self, pns_input: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) in [0, 1] RGB on the runner's device -> (1, 1, H, W) probabilities."""
        low, high = self.runner.encode_frame(pns_input)
        self.ring.push((low, high))
        recent_low, recent_high = self.ring.window()
        anchor_high = self.ring.anchor[1]
        return self.runner.temporal_head(anchor_high, recent_low, recent_high)

    def reset(self) -> None:
        """Forgets the stream (new source): the next frame becomes anchor and fills the window."""
        self.ring.reset()

    def refresh_anchor(self) -> None:
        """Makes the newest frame the anchor for the frames that follow (no backbone call).

        Before any frame, the next frame becomes the anchor, as after reset().
        """
        self.ring.refresh_anchor()


class StreamingPNS(PnsStep):
    """The PNS+ step on a PNSPlus module alone (PyTorch, where the module is), in eval mode."""

    def __init__(self, model: PNSPlus) -> None:
        super().__init__(TorchRunner(model, None))
        self.model = model

    def push(self, frame: torch.Tensor) -> torch.Tensor:
        """Adds the newest frame, (3, H, W) or (1, 3, H, W) in [0, 1] RGB at the model's input
        size (see frame_to_input); returns its (1, 1, H, W) probability map."""
        if frame.dim() == 3:
            frame = frame.unsqueeze(0)
        if frame.dim() != 4 or frame.shape[0] != 1:
            raise ValueError(
                f"StreamingPNS takes one frame, (3, H, W) or (1, 3, H, W); got {tuple(frame.shape)}"
            )
        reference = next(self.model.parameters())
        return self(frame.to(device=reference.device, dtype=reference.dtype))
