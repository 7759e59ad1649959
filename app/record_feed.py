"""The recording's own overlay: what the capture hands the recorder, drawn on its thread.

Live, the recorder is a sink of the capture: for each captured frame the capture thread takes a
snapshot (the frame, the newest finished result, the user's mask threshold and overlay switch)
and the recorder's thread draws it, with its own Annotator, into the frame and log line recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.stream import WorkerResult

from .annotate import Annotator
from .capture import CapturedFrame
from .config import LiveConfig
from .overlay import OverlayMode, OverlayStyle
from .recorder import RecordItem


@dataclass(frozen=True)
class FrameSnapshot:
    """A captured frame and what the overlay needs, as they were at the moment of capture."""

    frame: CapturedFrame
    latest: WorkerResult | None
    mask_threshold: float | None
    overlay_on: bool


class RecordFeed:
    """Turns FrameSnapshots into RecordItems (one per recording: it keeps the newest result)."""

    def __init__(self, config: LiveConfig, fps: float) -> None:
        self.config = config
        self.annotator = Annotator(
            OverlayStyle(config.color_bgr(), config.overlay_opacity),
            config.stale_after_s,
            config.hide_after_s,
            config.mask_threshold,
            True,
            fps,
        )

    def item(self, snapshot: FrameSnapshot) -> RecordItem:
        """The frame with the overlay the user had on at capture, and its log record."""
        annotator = self.annotator
        annotator.mask_threshold = snapshot.mask_threshold
        annotator.overlay_on = snapshot.overlay_on
        frame = snapshot.frame
        annotated = annotator.annotate(frame, snapshot.latest)
        mask = None
        current = annotated.mode in (OverlayMode.FRESH, OverlayMode.STALE, OverlayMode.HIDDEN)
        if self.config.record_masks and current and annotator.good is not None:
            mask = annotator.good.result.probability
        raw = frame.image if self.config.record_raw else None
        return RecordItem(annotated.image, raw, annotated.record, mask)
