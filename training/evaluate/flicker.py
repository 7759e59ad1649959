"""Flicker of a video's predicted masks: what a viewer sees as an unsteady overlay.

Masks are the predictions cut at 0.5 (the overlay's threshold), taken over every frame of the
video in order (no frame dropped: flicker is about consecutive frames).
- toggles per 100 frames: how often polyp presence (any mask pixel) switches on or off;
- consecutive Dice: mean Dice between each mask and the next (two empty masks agree: 1).
Image-folder stills have no neighbours and are not measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OVERLAY_CUT = 127  # a grey PNG prediction above this is drawn (probability > 0.5)


@dataclass(frozen=True)
class Flicker:
    toggles_per_100: float
    consecutive_dice: float
    videos: int

    def to_dict(self) -> dict[str, float]:
        return {
            "toggles_per_100_frames": self.toggles_per_100,
            "consecutive_dice": self.consecutive_dice,
            "videos": self.videos,
        }


def video_flicker(predictions: Sequence[np.ndarray]) -> tuple[float, float] | None:
    """(toggles per 100 frames, mean consecutive Dice) of one video's uint8 predictions in
    temporal order; None for fewer than 2 frames."""
    if len(predictions) < 2:
        return None
    masks = [np.asarray(p) > OVERLAY_CUT for p in predictions]
    present = [bool(m.any()) for m in masks]
    toggles = sum(a != b for a, b in zip(present, present[1:], strict=False))
    dice = []
    for first, second in zip(masks, masks[1:], strict=False):
        total = int(first.sum()) + int(second.sum())
        if first.shape != second.shape:
            dice.append(0.0)
        else:
            dice.append(1.0 if total == 0 else 2.0 * int((first & second).sum()) / total)
    return 100.0 * toggles / (len(masks) - 1), float(np.mean(dice))


def summarise_flicker(per_video: Sequence[tuple[float, float]]) -> Flicker | None:
    """Across-video means (each video counts once), like the protocol's other measures."""
    if not per_video:
        return None
    toggles, dice = zip(*per_video, strict=True)
    return Flicker(float(np.mean(toggles)), float(np.mean(dice)), len(per_video))
