"""The stream graph: every stage of the live stream, wired and started in one place.

    source --capture thread--> frames channel --> overlay --> display (window or headless loop)
                 |      |                            ^
                 |      +--> inference worker -------+  (side branch, latest frame wins)
                 |                                   v
                 +------------------------------> recorder thread: overlay + encoder
                                                  (every captured frame, own bounded queue)

The display takes the newest captured frame and the newest finished result, whatever its age:
the picture never waits on the model, and it may skip frames. The recorder is a second sink of
the capture, not of the display: it gets every captured frame with the newest result available
at that moment, so a slow display never thins the record. A result older than `stale_after_s`
is drawn as stale, older than `hide_after_s` it is hidden; a model error shows a banner while
the video goes on. In the exact offline mode (--every-frame) the display shows every frame with
its own result and the recorder takes the frames as shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.stream import InferenceWorker, Segmenter

from .annotate import Annotated, Annotator
from .capture import CapturedFrame, CaptureStage
from .channel import FrameChannel
from .config import LiveConfig
from .overlay import OverlayMode, OverlayStyle
from .record_feed import FrameSnapshot, RecordFeed
from .recorder import RecordItem, SessionRecorder
from .session_log import FrameRecord
from .sources import VideoSource
from .status import StreamStatus

DEFAULT_RECORD_DIR = "recordings"
NOTICE_S = 4.0  # how long a transient notice (snapshot saved, ...) stays on screen
EVERY_FRAME_WAIT_S = 300.0  # --every-frame: longest wait for one frame's result before going on


@dataclass(frozen=True)
class ShownFrame:
    """A frame as displayed: the annotated picture, the raw one, and what the overlay showed."""

    index: int
    timestamp: float
    image: np.ndarray
    raw: np.ndarray
    mask: np.ndarray | None
    mode: OverlayMode
    record: FrameRecord
    status: StreamStatus


class StreamGraph:
    """Wires capture, inference, overlay and recorder; the display calls `poll()`.

    Both front ends (window, headless) run the same graph; the user's actions on it are
    app/pipeline.py's LivePipeline."""

    def __init__(
        self,
        config: LiveConfig,
        source: VideoSource,
        segmenter: Segmenter,
        on_message: Callable[[str], None] | None = None,
        pace_files: bool = True,
    ) -> None:
        """pace_files=False reads a file as fast as the stages take it, still in live mode (the
        soak, app/soak.py); the window and the CLI always pace."""
        self.config = config
        self.source = source
        self.backend = segmenter.backend_name
        self.realtime = config.realtime or source.is_live
        self.on_message = on_message or (lambda message: None)
        # -- the stages, one line per edge ------------------------------------------------------
        self.frames: FrameChannel[CapturedFrame] = FrameChannel(2, drop_oldest=self.realtime)
        self.inference = InferenceWorker(segmenter)
        # Live: the model sees each frame as soon as it is captured, and so does the recorder
        # (last: only it may wait, for room in its queue). Every-frame (a file read as fast as it
        # is processed): each shown frame waits for its own result and is recorded as shown.
        sinks = [self._to_inference, self.frames.put, self._to_recorder] if self.realtime \
            else [self.frames.put]
        self.capture = CaptureStage(
            source, sinks, realtime=self.realtime, loop=config.loop, pace=pace_files,
            playback_fps=None if source.is_live else config.fps, max_frames=config.max_frames,
            on_restart=self._restart, reconnect_initial_s=config.reconnect_initial_s,
            reconnect_max_s=config.reconnect_max_s,
        )
        self.annotator = Annotator(
            OverlayStyle(config.color_bgr(), config.overlay_opacity), config.stale_after_s,
            config.hide_after_s, config.mask_threshold, self.realtime, self.capture.pace_fps,
        )
        # fed by the capture (live, _to_recorder) or by poll() (every-frame, see _show())
        self.recorder: SessionRecorder | None = None
        # -------------------------------------------------------------------------------------
        self._closing: list[SessionRecorder] = []
        self._stopped: list[SessionRecorder] = []
        self.frames_shown = 0
        self.display_fps = 0.0
        self._model_error = ""
        self._problem = ""  # a recording failure, shown until the next recording starts
        self._notice = ("", 0.0)
        self._last_shown: ShownFrame | None = None
        self._last_poll: float | None = None
        self._ended = False
        self._started = False
        self._closed = False

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Starts every stage (and the recording given by --record); a second call does nothing."""
        if self._started:
            return
        self._started = True
        self.inference.start()
        if self.config.record_dir:  # before the capture: its very first frame is recorded
            self.start_recording(self.config.record_dir)
        self.capture.start()

    @property
    def finished(self) -> bool:
        """The source ended (end of file, --max-frames) and every frame was shown."""
        return self.capture.finished.is_set() and len(self.frames) == 0

    def close(self, cause: str = "user") -> None:
        """Stops every stage; recordings are closed cleanly (trailer, summary). cause: who
        asked ("user", "signal"); the summary names the source instead where it ended or was
        lost (see end_cause)."""
        if self._closed:
            return
        self._closed = True
        self.frames.close()
        self.capture.stop()
        self.stop_recording(self.end_cause(cause))
        for recorder in self._closing:
            recorder.join(timeout=30.0)
        self.inference.close()

    # -- the stream ---------------------------------------------------------------------------
    def _to_inference(self, frame: CapturedFrame) -> int | None:
        """Submits the frame; its stream generation, None when closed meanwhile."""
        if self._closed:
            return None
        try:
            return self.inference.submit(frame.image, frame.timestamp, frame.index)
        except RuntimeError:  # closed meanwhile: a read in flight at close() is dropped
            return None

    def _to_recorder(self, frame: CapturedFrame) -> None:
        """Live: every captured frame goes to the recording with the newest result at this
        moment (drawn on the recorder's thread); waits only while the recorder's queue is full."""
        recorder = self.recorder
        if recorder is not None and recorder.active:
            annotator = self.annotator
            recorder.submit(FrameSnapshot(
                frame, self.inference.latest(), annotator.mask_threshold, annotator.overlay_on))

    def end_cause(self, requested: str = "user") -> str:
        """Why the session ends: the source's end or loss where that is what happened, else
        `requested` (the user, a signal)."""
        if self.source.is_live and self.capture.lost_since is not None:
            return "source lost"
        if self.capture.finished.is_set():
            reason = self.capture.end_reason
            if reason in ("end of source", "max frames"):
                return reason
            if reason == "source error":
                return "source lost"
        return requested

    def _restart(self) -> None:
        """The source started again (loop, reconnect): forget the old stream's results."""
        self.inference.reset_stream()
        self.annotator.restart()

    def poll(self, timeout: float = 0.0) -> ShownFrame | None:
        """The next frame to show (newest in live use), annotated; None if none is ready."""
        if self.realtime:
            frame = self.frames.get_latest(timeout)
        else:
            frame = self.frames.get(timeout)
        if frame is None:
            if self.finished and not self._ended:
                self._ended = True
                self.stop_recording(self.end_cause())
            return None
        if not self.realtime:
            generation = self._to_inference(frame)
            if generation is not None:
                self.inference.wait_for(frame.index, generation, EVERY_FRAME_WAIT_S)
        return self._show(frame)

    def _show(self, frame: CapturedFrame) -> ShownFrame:
        now = time.monotonic()
        if self._last_poll is not None and now > self._last_poll:
            rate = 1.0 / (now - self._last_poll)
            self.display_fps = rate if not self.display_fps else 0.9 * self.display_fps + 0.1 * rate
        self._last_poll = now
        annotated = self.annotator.annotate(frame, self.inference.latest())
        if annotated.model_error:
            self._model_error = annotated.model_error
        recorder = self.recorder
        if not self.realtime and recorder is not None and recorder.active:
            raw = frame.image if self.config.record_raw else None
            current = annotated.mode in (OverlayMode.FRESH, OverlayMode.STALE, OverlayMode.HIDDEN)
            good = self.annotator.good
            result = good.result if good is not None and current else None
            mask = result.probability if self.config.record_masks and result else None
            recorder.submit(RecordItem(annotated.image, raw, annotated.record, mask))
        shown = ShownFrame(
            frame.index, frame.timestamp, annotated.image, frame.image, annotated.mask,
            annotated.mode, annotated.record, self._status(annotated),
        )
        self._last_shown = shown
        self.frames_shown += 1
        return shown

    def _status(self, annotated: Annotated) -> StreamStatus:
        good = self.annotator.good
        recorder = self.recorder
        recording = recorder is not None and recorder.active
        return StreamStatus(
            source_fps=self.capture.fps,
            display_fps=self.display_fps,
            model_fps=float(self.inference.model_fps),
            latency_ms=good.latency * 1000.0 if good is not None else None,
            backend=self.backend,
            overlay=annotated.mode,
            result_age_s=annotated.age_s,
            mask_threshold=self.annotator.mask_threshold,
            recording=recording,
            recording_s=recorder.elapsed_s if recording and recorder else 0.0,
            paused=self.capture.paused,
            banner=self.banner(annotated.model_error is not None),
        )

    def problem(self, failing: bool | None = None) -> str:
        """A problem the user must see (device lost, recording stopped, model error), or ''."""
        if failing is None:
            latest = self.inference.latest()
            failing = latest is not None and latest.error is not None
            if latest is not None and latest.error is not None:
                # The error may be newer than the last frame shown (asked between two frames).
                self._model_error = latest.error
        if self.capture.message and (self.source.is_live or self.finished):
            return self.capture.message
        if self._problem:
            return self._problem
        recorder = self.recorder
        if recorder is not None and recorder.behind:
            return ("recording: the encoder is falling behind the capture (frames wait in "
                    "memory, none is dropped; the capture waits when the queue is full)")
        if failing:
            return f"model error: {self._model_error} - video continues without overlay"
        return ""

    def banner(self, failing: bool | None = None) -> str:
        """The problem if any, else a recent notice, else ''."""
        return self.problem(failing) or self.notice()

    def notice(self) -> str:
        """The transient notice still on screen (overlay on, mask threshold 0.55, ...), or ''."""
        text, until = self._notice
        return text if time.monotonic() < until else ""

    def notify(self, text: str) -> None:
        """A transient message (snapshot saved, recording started)."""
        self._notice = (text, time.monotonic() + NOTICE_S)
        self.on_message(text)

    # -- recording ----------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder is not None and self.recorder.active

    def start_recording(self, folder: str | Path | None = None) -> SessionRecorder | None:
        if self.recording:
            return self.recorder
        target = folder or self.config.record_dir or DEFAULT_RECORD_DIR
        fps = self.config.fps or self.source.fps or self.capture.pace_fps
        feed = None
        if self.realtime:
            feed = RecordFeed(self.config, self.annotator.fps)
        try:
            recorder = SessionRecorder(
                target, fps=fps, container=self.config.container, crf=self.config.crf,
                record_raw=self.config.record_raw, record_masks=self.config.record_masks,
                queue_size=self.config.recorder_queue,
                realtime=self.realtime, source=self.source.spec.text,
                video_name=self.source.spec.name, frame_names=self.source.frame_names,
                backend=self.backend,
                model=self.config.model or "bundled demo (assets/model)",
                on_message=self._recording_failed,
                prepare=feed.item if feed is not None else None,
            )
        except OSError as error:
            self._recording_failed(f"cannot record to {target}: {error.strerror or error}")
            return None
        self._problem = ""
        self.recorder = recorder
        self.notify(f"recording to {recorder.folder / recorder.stem}_*")
        return recorder

    def stop_recording(self, cause: str = "user") -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.stop(cause)
            self._closing = [r for r in self._closing if not r.join(0)] + [recorder]
            self._stopped.append(recorder)

    @property
    def recordings(self) -> list[SessionRecorder]:
        """The recordings of this run that were stopped (all of them after close())."""
        return list(self._stopped)

    def _recording_failed(self, message: str) -> None:
        self._problem = message
        self.on_message(message)
