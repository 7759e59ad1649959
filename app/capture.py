"""The capture stage: one thread that reads the source, timestamps frames and hands them on.

It never waits for the model or the display in live use: sinks must not block (the frame
channel drops its oldest frame, the inference worker keeps only the newest). Files are paced at
their frame rate unless `realtime` is off (batch runs), loop or stop at the end; a device or
stream that stops delivering is reopened with exponential backoff while `message` says so.
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
    """One frame as captured. timestamp: time.monotonic() when it was read (seconds)."""

    index: int
    timestamp: float
    image: np.ndarray


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
    ) -> None:
        self.source = source
        self.sinks = sinks
        self.realtime = realtime
        self.loop = loop
        self.pace_fps = playback_fps or source.fps or 25.0
        self.max_frames = max_frames
        self.on_restart = on_restart
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.frames_captured = 0
        self.fps = 0.0  # measured capture rate (moving average)
        self.message = ""  # e.g. "capture device lost; reconnecting ..."
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
        clock_start, paced_frames = time.monotonic(), 0
        last_time: float | None = None
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait()
                clock_start, paced_frames = time.monotonic(), 0
                continue
            if self.max_frames is not None and self.frames_captured >= self.max_frames:
                return
            image = self.source.read()
            if image is None:
                if not self._recover():
                    return
                clock_start, paced_frames, last_time = time.monotonic(), 0, None
                continue
            if self.realtime and not self.source.is_live:
                clock_start, paced_frames = self._pace(clock_start, paced_frames)
            now = time.monotonic()
            if last_time is not None and now > last_time:
                rate = 1.0 / (now - last_time)
                self.fps = rate if self.fps == 0.0 else 0.9 * self.fps + 0.1 * rate
            last_time = now
            frame = CapturedFrame(self.frames_captured, now, image)
            self.frames_captured += 1
            for sink in self.sinks:
                sink(frame)

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
            if not self.loop:
                self.message = "end of video"
                return False
            return self._reopen_file()
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
            return False
        if self.on_restart:
            self.on_restart()
        return True
