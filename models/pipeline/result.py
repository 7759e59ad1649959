"""What the inference sequence gives for one frame, and the typed seam front ends call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..prompts import Prompts
from .field_of_view import FieldOfView


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds spent in each stage of one frame (sam = 0 when SAM was skipped).

    When SAM's image step ran beside the PNS+ step (sam_image_lane.py), `sam` is what SAM added
    after the prompts (the wait for its encoder, then the decoder) and `preprocess` leaves out
    SAM's share; the stages still add up to `total`.
    """

    preprocess: float
    pns: float
    prompts: float
    sam: float
    postprocess: float
    total: float


NO_TIMINGS = StageTimings(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class FrameResult:
    """The segmentation of one frame of size (H, W).

    probability: (H, W) float32 in [0, 1] (zeros when SAM was skipped).
    mask: (H, W) bool, probability > 0.5.
    boxes: (N, 4) float32 x1, y1, x2, y2 in frame pixels: the prompt components, largest first
      (reported whether or not SAM was given boxes; none for source "autosam").
    score: highest component score (mean prompt-map probability over it), 0.0 when none.
    timings: per-stage milliseconds.
    pns_probability: (Hm, Wm) float32 PNS+ map of the frame (256x448 by default); (0, 0) when
      the prompt source does not use PNS+.
    cut: True when this frame was detected as a scene cut (the stream restarted on it).
    prompts: the prompts SAM received, in frame coordinates (`.empty` when SAM was skipped and
      always for source "autosam", whose prompt is dense and internal); None when not kept.
    source: the prompt source that produced the result (see prompt_sources.PROMPT_SOURCES).
    field_of_view: the crop of the frame the networks saw when the frame had wide black margins
      (field_of_view.py), else None; `prompts` and `pns_probability` are then of that crop,
      everything else of the whole frame.
    """

    probability: np.ndarray
    mask: np.ndarray
    boxes: np.ndarray
    score: float
    polyp_present: bool
    timings: StageTimings = NO_TIMINGS
    pns_probability: np.ndarray | None = None
    cut: bool = False
    prompts: Prompts | None = None
    source: str = "pns"
    field_of_view: FieldOfView | None = None

    @property
    def sam_ran(self) -> bool:
        return self.source == "autosam" or len(self.boxes) > 0


class Segmenter(Protocol):
    """The seam between a front end and the model: one frame in, its FrameResult out."""

    backend_name: str

    def process(self, frame: np.ndarray) -> FrameResult:
        """Segments the newest frame (H, W, 3) uint8 of the stream."""
        ...

    def reset(self) -> None:
        """Starts a new stream: the next frame becomes the anchor."""
        ...
