"""The SUN-SEG video protocol: frames sorted, first and last dropped, per-video then across-video
averaging (each video counts once), then mean / max over the 256 thresholds of each curve.

Image-folder data are scored with one "video" per image and nothing dropped. Videos are also
measured for flicker (training.evaluate.flicker).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..errors import DataError
from .flicker import Flicker, summarise_flicker, video_flicker
from .frame_metrics import FrameScores, score_frame

Frame = tuple[np.ndarray, np.ndarray] | Callable[[], tuple[np.ndarray, np.ndarray]]

# Report keys (the toolbox's names) in the papers' column order, with table headers.
METRIC_ORDER: tuple[tuple[str, str], ...] = (
    ("Smeasure", "S-alpha"),
    ("maxDice", "Dice"),
    ("meanSen", "Sen"),
    ("wFmeasure", "wF"),
    ("meanEm", "meanEm"),
    ("maxEm", "maxEm"),
    ("meanFm", "meanFm"),
    ("maxFm", "maxFm"),
    ("MAE", "MAE"),
    ("meanDice", "meanDice"),
    ("maxSen", "maxSen"),
    ("meanIoU", "meanIoU"),
    ("maxIoU", "maxIoU"),
)
PROTOCOL = (
    "SUN-SEG: prediction resized to GT (cv2.resize), GT > 128, prediction / 255 min-max "
    "normalised per frame; first and last frame of each video dropped; per-video then "
    "across-video mean"
)
_SCALARS = ("s_alpha", "weighted_f", "mae")
_CURVES = ("e_curve", "f_curve", "dice_curve", "sen_curve", "iou_curve")


@dataclass
class VideoScores:
    """Frame-averaged scores of one video: scalars and 256-entry curves."""

    name: str
    frames_scored: int
    scalars: dict[str, float]
    curves: dict[str, np.ndarray]

    def metrics(self) -> dict[str, float]:
        return _summarise(self.scalars, self.curves)


@dataclass
class Report:
    """Across-video results; `metrics` keys are METRIC_ORDER's."""

    metrics: dict[str, float]
    videos: list[VideoScores]
    frames_total: int
    drop_ends: bool  # False when every "video" is an image-folder image
    notes: list[str] = field(default_factory=list)
    flicker: Flicker | None = None  # None for image-folder data

    @property
    def frames_scored(self) -> int:
        return sum(video.frames_scored for video in self.videos)

    def to_dict(self) -> dict:
        return {
            "protocol": PROTOCOL,
            "videos": len(self.videos),
            "frames_total": self.frames_total,
            "frames_scored": self.frames_scored,
            "notes": list(self.notes),
            "metrics": {key: self.metrics[key] for key, _ in METRIC_ORDER},
            "flicker": None if self.flicker is None else self.flicker.to_dict(),
            "per_video": {
                v.name: {"frames_scored": v.frames_scored, **v.metrics()} for v in self.videos
            },
        }

    def table(self) -> str:
        """One header row and one value row in the papers' column order, 3 decimals."""
        headers = [header for _, header in METRIC_ORDER]
        values = [f"{self.metrics[key]:.3f}" for key, _ in METRIC_ORDER]
        widths = [max(len(h), len(v)) for h, v in zip(headers, values, strict=True)]
        header_row = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
        value_row = "  ".join(v.rjust(w) for v, w in zip(values, widths, strict=True))
        return f"{header_row}\n{value_row}"


def score_video(name: str, frames: Sequence[Frame], drop_ends: bool = True) -> VideoScores | None:
    """Scores one video's frames (already in temporal order); None when nothing is left.

    frames: (prediction, GT) uint8 pairs, or zero-argument callables returning one (so dropped
    frames are never read).
    """
    kept = list(frames[1:-1]) if drop_ends else list(frames)
    if not kept:
        return None
    scores: list[FrameScores] = [score_frame(*(f() if callable(f) else f)) for f in kept]
    scalars = {k: float(np.mean([getattr(s, k) for s in scores])) for k in _SCALARS}
    curves = {k: np.mean([getattr(s, k) for s in scores], axis=0) for k in _CURVES}
    return VideoScores(name, len(kept), scalars, curves)


class VideoFrames(NamedTuple):
    """A video to score: frames in temporal order; `still` for an image-folder image."""

    name: str
    frames: Sequence[Frame]
    still: bool = False


def score_videos(videos: Sequence[VideoFrames]) -> Report:
    """The protocol over several videos.

    Videos drop their first and last frame; stills (image-folder images, one "video" each) drop
    nothing.
    Raises:
      DataError: when no video has a frame left to score.
    """
    results, notes, flickers = [], [], []
    total = stills = 0
    for name, frames, still in videos:
        total += len(frames)
        stills += int(still)
        if not still:
            measured = video_flicker([(f() if callable(f) else f)[0] for f in frames])
            if measured is not None:
                flickers.append(measured)
        scored = score_video(name, frames, drop_ends=not still)
        if scored is None:
            notes.append(
                f"video {name} skipped: {len(frames)} frame(s), none left after "
                "dropping the first and last"
            )
        else:
            results.append(scored)
    if not results:
        raise DataError("no frame to score: every video has fewer than 3 frames")
    if stills:
        notes.insert(
            0, f"image-folder data: each of the {stills} images is its own video; no frame dropped"
        )
    scalars = {k: float(np.mean([v.scalars[k] for v in results])) for k in _SCALARS}
    curves = {k: np.mean([v.curves[k] for v in results], axis=0) for k in _CURVES}
    return Report(
        _summarise(scalars, curves),
        results,
        total,
        stills < len(videos),
        notes,
        summarise_flicker(flickers),
    )


def _summarise(scalars: Mapping[str, float], curves: Mapping[str, np.ndarray]) -> dict[str, float]:
    return {
        "Smeasure": scalars["s_alpha"],
        "wFmeasure": scalars["weighted_f"],
        "MAE": scalars["mae"],
        "meanEm": float(curves["e_curve"].mean()),
        "maxEm": float(curves["e_curve"].max()),
        "meanFm": float(curves["f_curve"].mean()),
        "maxFm": float(curves["f_curve"].max()),
        "meanDice": float(curves["dice_curve"].mean()),
        "maxDice": float(curves["dice_curve"].max()),
        "meanSen": float(curves["sen_curve"].mean()),
        "maxSen": float(curves["sen_curve"].max()),
        "meanIoU": float(curves["iou_curve"].mean()),
        "maxIoU": float(curves["iou_curve"].max()),
    }
