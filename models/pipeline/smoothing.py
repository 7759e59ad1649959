"""Steady masks: hysteresis on polyp presence across frames, with no added latency.

A frame-by-frame segmenter flickers: a polyp seen in frame t is missed in t+1 (blur, a fold,
glare) and found again in t+2, and a faint false positive appears for a single frame. Averaging
masks over time would fix that by delaying every change, which a live overlay cannot afford.
`PresenceHysteresis` decides from the current frame and a little state instead:

- switching on needs a confident detection (component score >= `on_score`) or a borderline
  one (at the prompt threshold) in two consecutive frames, while staying on needs only a
  borderline detection: a one-frame faint false positive does not pop in and out, and a polyp
  that is only ever found faintly is still shown, one frame later;
- a miss while on holds the last mask for up to `hold_frames` frames (drawn as it was), so a
  polyp lost for a frame or two stays on screen; longer misses switch off.

Nothing waits for a future frame: every decision uses the frames seen so far, so a new polyp
shows on the frame it is first confidently found (the next one when faint), and a vanished one
disappears `hold_frames` frames later at most.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SmoothingConfig:
    """on_score: the component score that switches the overlay on from off at once (a fainter
    detection needs a second frame); 0 shows every detection at once, which the demo model uses:
    a gate would hide a polyp that is only seen in one still or at a video's first frame.
    hold_frames: how many consecutive missed frames keep the last mask (0: no hold)."""

    on_score: float = 0.0
    hold_frames: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.on_score <= 1.0:
            raise ValueError(f"on_score must be in [0, 1], got {self.on_score}")
        if self.hold_frames < 0:
            raise ValueError(f"hold_frames must be >= 0, got {self.hold_frames}")


@dataclass(frozen=True)
class SmoothedFrame:
    """probability: what to show (the frame's own map, the held map, or zeros); held: True when
    the map is the last detection's, carried over a miss."""

    probability: np.ndarray
    held: bool


class PresenceHysteresis:
    """Per-stream state of the presence hysteresis (module docstring); reset() on a new source."""

    def __init__(self, config: SmoothingConfig | None = None) -> None:
        self.config = config or SmoothingConfig()
        self.reset()

    def reset(self) -> None:
        self._on = False
        self._last: np.ndarray | None = None
        self._missed = 0
        self._faint_before = False

    def __call__(self, probability: np.ndarray, detected: bool, score: float) -> SmoothedFrame:
        """One frame: its probability map, whether it had a detection (a prompt component) and
        the best component score."""
        config = self.config
        if config.hold_frames == 0 and config.on_score == 0.0:
            return SmoothedFrame(probability, held=False)
        if self._last is not None and self._last.shape != probability.shape:
            self.reset()  # a new frame size is a new source
        found = detected and bool((probability > 0.5).any())
        faint_before, self._faint_before = self._faint_before, found
        if found and (self._on or faint_before or score >= config.on_score):
            self._on, self._missed, self._last = True, 0, probability
            return SmoothedFrame(probability, held=False)
        if self._on and self._last is not None and self._missed < config.hold_frames:
            self._missed += 1
            return SmoothedFrame(self._last, held=True)
        self._on, self._missed, self._last = False, 0, None
        return SmoothedFrame(np.zeros_like(probability), held=False)
