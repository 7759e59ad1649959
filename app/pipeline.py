"""The live pipeline: the stream graph (app/stream_graph.py) plus the user's actions on it, the
same for the window's keys and for a headless run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .capture import CapturedFrame
from .outputs import save_snapshot
from .stream_graph import DEFAULT_RECORD_DIR, ShownFrame, StreamGraph

MASK_THRESHOLD_STEP = 0.05


class LivePipeline(StreamGraph):
    """The stream graph and the controls both front ends use."""

    @property
    def overlay_on(self) -> bool:
        return self.annotator.overlay_on

    @property
    def mask_threshold(self) -> float | None:
        return self.annotator.mask_threshold

    def redraw(self) -> ShownFrame | None:
        """The last shown frame drawn again with the current overlay setting and mask threshold
        (O or +/- while paused); it is not recorded again."""
        last = self._last_shown
        if last is None:
            return None
        frame = CapturedFrame(last.index, last.timestamp, last.raw)
        annotated = self.annotator.annotate(frame, self.inference.latest())
        shown = replace(
            last, image=annotated.image, mask=annotated.mask, mode=annotated.mode,
            record=annotated.record, status=self._status(annotated),
        )
        self._last_shown = shown
        return shown

    def redraw_with_newer_result(self) -> ShownFrame | None:
        """While paused: the frame on screen drawn again once a result newer than the one drawn
        on it (the paused frame's own, at the latest) has arrived; else None. Without this a
        paused picture kept the mask of an earlier frame, which sits beside the polyp wherever
        the camera moved between the two."""
        last, latest, good = self._last_shown, self.inference.latest(), self.annotator.good
        if last is None or latest is None or latest.result is None:
            return None
        if latest.frame_index > last.index:  # not for this frame (a restarted source)
            return None
        if good is not None and latest.frame_index <= good.frame_index:
            return None  # already drawn with it
        return self.redraw()

    def toggle_overlay(self) -> bool:
        self.annotator.overlay_on = not self.annotator.overlay_on
        return self.annotator.overlay_on

    def change_mask_threshold(self, steps: int) -> float:
        """Moves the mask threshold by `steps` x 0.05 (from 0.5 while on the model's own mask)."""
        current = 0.5 if self.mask_threshold is None else self.mask_threshold
        mask_threshold = round(min(0.95, max(0.05, current + steps * MASK_THRESHOLD_STEP)), 2)
        self.annotator.mask_threshold = mask_threshold
        return mask_threshold

    def toggle_pause(self) -> bool:
        """Pauses or resumes a file; a live source cannot pause (a notice says so)."""
        if self.source.is_live:
            self.notify("pause works for video files only")
            return False
        self.capture.set_paused(not self.capture.paused)
        return self.capture.paused

    def toggle_recording(self) -> bool:
        if self.recording:
            self.stop_recording()
        else:
            self.start_recording()
        return self.recording

    def snapshot(self) -> Path | None:
        """Saves the frame on screen (with its overlay) as a PNG; returns its path."""
        shown = self._last_shown
        if shown is None:
            return None
        folder = self.config.snapshot_dir or self.config.record_dir or DEFAULT_RECORD_DIR
        try:
            path = save_snapshot(folder, shown.image, shown.index)
        except OSError as error:
            self.notify(f"snapshot failed: {error.strerror or error}")
            return None
        self.notify(f"snapshot saved: {path}")
        return path


__all__ = ["DEFAULT_RECORD_DIR", "LivePipeline", "ShownFrame"]
