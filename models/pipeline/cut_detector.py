"""Scene-cut detection between consecutive frames of a stream, on a tiny grey thumbnail."""

from __future__ import annotations

import cv2
import numpy as np

THUMBNAIL = (28, 16)  # (width, height): the aspect of PNS+'s 448x256 input
DEFAULT_CUT_THRESHOLD = 0.2  # see CutDetector: above every neighbour score measured


class CutDetector:
    """Flags a frame whose thumbnail differs from the previous frame's by more than `threshold`.

    The score is the mean absolute difference of 16x28 grey thumbnails in [0, 1]. Measured on
    CVC-ClinicDB, whose cases are runs of frames sampled sparsely from videos (so farther apart
    than consecutive video frames): neighbours score 0.05 median, 0.17 at most; the first frames
    of different cases 0.07-0.15. The default 0.2 is above all of these, so it fires only on an
    abrupt change of picture (another scene, a blank or inverted frame), not on camera motion.
    threshold=None disables detection.
    """

    def __init__(self, threshold: float | None = DEFAULT_CUT_THRESHOLD) -> None:
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise ValueError(f"cut_threshold must be in (0, 1) or None, got {threshold}")
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self.last_score = 0.0

    def __call__(self, frame: np.ndarray) -> bool:
        """True when `frame` (H, W, 3) uint8 starts a new scene; the first frame is not a cut."""
        if self.threshold is None:
            return False
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
        previous, self._previous = self._previous, thumb
        if previous is None:
            self.last_score = 0.0
            return False
        self.last_score = float(np.abs(thumb - previous).mean())
        return self.last_score > self.threshold

    def reset(self) -> None:
        self._previous = None
        self.last_score = 0.0
