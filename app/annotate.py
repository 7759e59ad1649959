"""The overlay stage: pairs each frame with the newest finished result and draws it.

Whatever the result's age, the frame is shown: a result older than `stale_after_s` is drawn as
stale, older than `hide_after_s` (or while the model fails) it is hidden. Results computed on a
later frame than the one shown (possible in batch runs) are not used, so overlays are causal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.stream import WorkerResult

from .capture import CapturedFrame
from .overlay import OverlayMode, OverlayStyle, render
from .session_log import FrameRecord


@dataclass(frozen=True)
class Annotated:
    """One frame with its overlay. age_s: of the result shown (None without one)."""

    image: np.ndarray
    mask: np.ndarray | None
    mode: OverlayMode
    age_s: float | None
    record: FrameRecord
    model_error: str | None


class Annotator:
    """Chooses and draws the overlay for each frame; also the frame's log record."""

    def __init__(
        self,
        style: OverlayStyle,
        stale_after_s: float,
        hide_after_s: float,
        mask_threshold: float | None = None,
        realtime: bool = True,
        fps: float = 25.0,
    ) -> None:
        self.style = style
        self.stale_after_s, self.hide_after_s = stale_after_s, hide_after_s
        self.mask_threshold = mask_threshold  # None: the model's own mask
        self.realtime, self.fps = realtime, fps
        self.overlay_on = True
        self.good: WorkerResult | None = None  # the newest result with a mask
        self._segment = 0  # the source segment (see CapturedFrame.segment) `good` belongs to
        self._mask_cache: tuple[int, float | None, np.ndarray] | None = None

    def restart(self) -> None:
        """A new stream (loop, reconnect): results of the old one no longer apply."""
        self.good = None

    def annotate(self, frame: CapturedFrame, latest: WorkerResult | None) -> Annotated:
        if frame.segment != self._segment:  # the source restarted: the old result is void
            self._segment, self.good = frame.segment, None
        if latest is not None and latest.result is not None and latest.frame_index <= frame.index:
            self.good = latest
        error = latest.error if latest is not None and latest.error is not None else None
        mode, mask, age = self._state(frame, error is not None)
        tag = _tag(mode, age, error is not None)
        image = render(frame.image, mask if self.overlay_on else None, mode, self.style, tag)
        return Annotated(image, mask, mode, age, self._record(frame, mode, error), error)

    def _state(
        self, frame: CapturedFrame, failing: bool
    ) -> tuple[OverlayMode, np.ndarray | None, float | None]:
        good = self.good
        if good is None:
            return (OverlayMode.OFF if failing else OverlayMode.WAITING), None, None
        age, mask = self._age(frame, good), self._mask(good)
        if not self.overlay_on:
            return OverlayMode.HIDDEN, mask, age
        if failing or age > self.hide_after_s:
            return OverlayMode.OFF, mask, age
        if age > self.stale_after_s:
            return OverlayMode.STALE, mask, age
        return OverlayMode.FRESH, mask, age

    def _age(self, frame: CapturedFrame, good: WorkerResult) -> float:
        """How old the result is: in capture time live, in video time in batch runs."""
        if self.realtime:
            return max(0.0, frame.timestamp - good.timestamp)
        return max(0, frame.index - good.frame_index) / self.fps

    def _mask(self, good: WorkerResult) -> np.ndarray:
        """The model's own mask, or its probability above the user's mask threshold (cached)."""
        cache = self._mask_cache
        if cache is not None and cache[0] == good.frame_index and cache[1] == self.mask_threshold:
            return cache[2]
        if self.mask_threshold is None:
            mask = np.asarray(good.result.mask, dtype=bool)
        else:
            mask = np.asarray(good.result.probability) > self.mask_threshold
        self._mask_cache = (good.frame_index, self.mask_threshold, mask)
        return mask

    def _record(self, frame: CapturedFrame, mode: OverlayMode, error: str | None) -> FrameRecord:
        """The log line: frame numbers are positions in the source; `polyp`, `boxes` and
        `mask_area` all describe the one mask the overlay draws, so they always agree."""
        wall = round(time.time() - (time.monotonic() - frame.timestamp), 4)
        good, position = self.good, frame.source_position
        if good is None:
            return FrameRecord(
                position,
                frame.timestamp,
                wall,
                overlay=mode.value,
                error=error,
                session_frame=frame.index,
                gap_s=frame.gap_s,
            )
        result, mask = good.result, self._mask(good)
        area = int(np.count_nonzero(mask))
        boxes = np.asarray(result.boxes) if area else np.zeros((0, 4))
        # The result's frame in the same source segment (a restart voids older results), so the
        # session counters' difference is also the difference of source positions.
        age_frames = frame.index - good.frame_index
        return FrameRecord(
            frame=position,
            timestamp=frame.timestamp,
            capture_time=wall,
            polyp=area > 0,
            score=round(float(result.score), 4),
            boxes=[[round(float(v), 1) for v in box] for box in boxes],
            mask_area=area,
            latency_ms=round(good.latency * 1000.0, 1),
            result_frame=position - age_frames,
            overlay=mode.value,
            error=error,
            session_frame=frame.index,
            result_age_frames=age_frames,
            result_age_ms=round(max(0.0, frame.timestamp - good.timestamp) * 1000.0, 1),
            gap_s=frame.gap_s,
        )


def _tag(mode: OverlayMode, age: float | None, failing: bool) -> str:
    """The small label burnt into the frame (and so into the recording)."""
    if failing:
        return "MODEL ERROR - overlay off"
    if mode is OverlayMode.STALE:
        return f"STALE {age:.1f} s"
    if mode is OverlayMode.OFF:
        return f"OVERLAY OFF - model {age:.1f} s behind"
    if mode is OverlayMode.WAITING:
        return "waiting for model"
    return ""
