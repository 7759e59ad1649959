"""The capture stage: one thread that reads the source, timestamps frames and hands them on.

It never waits for the model or the display in live use: sinks must not block (the frame
channel drops its oldest frame, the inference worker keeps only the newest); only the recorder
may hold it back, when its whole queue is full (a frame is never dropped from a recording).
Files are paced at their frame rate unless `realtime` is off (batch runs), loop or stop at the
end; a device or stream that stops delivering is reopened with exponential backoff while
`message` says so, and the gap is kept in `gaps`. A live source is opened afresh when the stage
starts: what piled up while the model loaded is never shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .sources import SourceError, VideoSource


@dataclass(frozen=True)
class CapturedFrame:
    """One frame as captured. timestamp: time.monotonic() when it was read (seconds).

    index: the session's capture counter (never restarts); position: the frame's place in the
    source (restarts at 0 when a file loops or a stream is reopened); segment: how many times the
    source was (re)started before this frame; gap_s: seconds without frames before this one
    (first frame after a lost source came back), else None.
    """

    index: int
    timestamp: float
    image: np.ndarray
    position: int = -1
    segment: int = 0
    gap_s: float | None = None

    @property
    def source_position(self) -> int:
        """The position in the source (the index where no position was given)."""
        return self.position if self.position >= 0 else self.index


@dataclass(frozen=True)
class SourceGap:
    """A live source lost and back: after session frame `after_frame`, `seconds` without frames."""

    after_frame: int
    seconds: float


FrameSink = Callable[[CapturedFrame], None]


class CaptureStage:
    """Reads `source` on its own thread and calls every sink with each CapturedFrame."""

    def __init__(
        self,
        source: VideoSource,
        sinks: list[FrameSink],
        *,
        realtime: bool = True,
        loop: bool = False,
        playback_fps: float | None = None,
        max_frames: int | None = None,
        on_restart: Callable[[], None] | None = None,
        reconnect_initial_s: float = 0.5,
        reconnect_max_s: float = 8.0,
        pace: bool = True,
    ) -> None:
        self.source = source
        self.sinks = sinks
        self.realtime = realtime
        self.pace = pace  # False: a file is read as fast as the sinks take it (the soak)
        self.loop = loop
        self.pace_fps = playback_fps or source.fps or 25.0
        self.max_frames = max_frames
        self.on_restart = on_restart
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.frames_captured = 0
        self.fps = 0.0  # measured capture rate (moving average)
        self.message = ""  # e.g. "capture device lost; reconnecting ..."
        self.end_reason = ""  # "end of source", "max frames", "source error", "stopped"
        self.lost_since: float | None = None  # time.monotonic() when a live source was lost
        self.gaps: list[SourceGap] = []
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._running.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():  # never release under a read still in progress
            self.source.release()

    def set_paused(self, paused: bool) -> None:
        """Pauses a file (live sources go on: a device cannot be paused)."""
        if paused and not self.source.is_live:
            self._running.clear()
        else:
            self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def _run(self) -> None:
        try:
            self._capture_loop()
        finally:
            self.finished.set()

    def _capture_loop(self) -> None:
        if self.source.is_live:
            self._start_fresh()
        clock_start, paced_frames = time.monotonic(), 0
        last_time: float | None = None
        position, segment, gap_s = 0, 0, None
        self.end_reason = "stopped"
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait()
                clock_start, paced_frames = time.monotonic(), 0
                continue
            if self.max_frames is not None and self.frames_captured >= self.max_frames:
                self.end_reason = "max frames"
                return
            image = self.source.read()
            if image is None:
                lost_at = time.monotonic()
                if not self._recover():
                    return
                if self.source.is_live:  # the stream came back: the gap goes into the log
                    gap_s = time.monotonic() - (last_time or lost_at)
                    self.gaps.append(SourceGap(self.frames_captured - 1, round(gap_s, 3)))
                clock_start, paced_frames, last_time = time.monotonic(), 0, None
                position, segment = 0, segment + 1
                continue
            if self.realtime and self.pace and not self.source.is_live:
                clock_start, paced_frames = self._pace(clock_start, paced_frames)
            now = time.monotonic()
            if last_time is not None and now > last_time:
                rate = 1.0 / (now - last_time)
                self.fps = rate if self.fps == 0.0 else 0.9 * self.fps + 0.1 * rate
            last_time = now
            frame = CapturedFrame(self.frames_captured, now, image, position, segment, gap_s)
            self.frames_captured += 1
            position, gap_s = position + 1, None
            for sink in self.sinks:
                sink(frame)

    def _start_fresh(self) -> None:
        """Reopens a live source, so that frames buffered while the model loaded (in the socket,
        the driver) are dropped: the first frame shown is a current one. A source that cannot be
        reopened now is left as it is (its reads then fail and the reconnect loop takes over)."""
        try:
            self.source.open()
        except SourceError:
            pass

    def _pace(self, clock_start: float, paced_frames: int) -> tuple[float, int]:
        """Sleeps until this frame is due at the playback rate; restarts the clock if late."""
        due = clock_start + paced_frames / self.pace_fps
        delay = due - time.monotonic()
        if delay > 0:
            self._stop.wait(delay)
        elif delay < -0.5:  # far behind (slow decode, pause): do not burst to catch up
            return time.monotonic(), 1
        return clock_start, paced_frames + 1

    def _recover(self) -> bool:
        """End of a file: loop or stop. Lost device/stream: reopen with backoff until stopped."""
        if not self.source.is_live:
            if self.source.end_message:  # an unreadable frame in a folder
                self.message = self.source.end_message
                self.end_reason = "source error"
                return False
            if not self.loop:
                self.message = "end of video"
                self.end_reason = "end of source"
                return False
            return self._reopen_file()
        self.lost_since = time.monotonic()  # stays set if the session ends while it is lost
        if not self._reconnect():
            return False
        self.lost_since = None
        return True

    def _reconnect(self) -> bool:
        delay, attempt = self.reconnect_initial_s, 0
        kind = "capture device" if self.source.spec.kind == "device" else "stream"
        while not self._stop.is_set():
            attempt += 1
            self.message = (
                f"{kind} {self.source.spec.text} lost; reconnecting "
                f"(attempt {attempt}, next in {delay:.1f} s)"
            )
            if self._stop.wait(delay):
                return False
            try:
                self.source.open()
            except SourceError:
                delay = min(delay * 2.0, self.reconnect_max_s)
                continue
            self.message = ""
            if self.on_restart:
                self.on_restart()
            return True
        return False

    def _reopen_file(self) -> bool:
        try:
            self.source.open()
        except SourceError as error:
            self.message = str(error)
            self.end_reason = "source error"
            return False
        if self.on_restart:
            self.on_restart()
        return True
