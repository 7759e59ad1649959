"""A worker thread around a segmenter: the display never waits on the model.

`submit` only swaps a one-frame slot (latest frame wins; an unprocessed frame it replaces is
counted as skipped); the thread takes the newest frame, runs `process`, and publishes a
WorkerResult that `latest()` returns. A model exception becomes `WorkerResult.error` and the
thread goes on with the next frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from models.errors import one_line
from models.pipeline import FrameResult, Segmenter

FPS_WINDOW_S = 2.0


@dataclass(frozen=True)
class WorkerResult:
    frame_index: int
    timestamp: float  # the capture timestamp given to submit (time.monotonic() seconds)
    result: FrameResult | None  # None when the model raised
    error: str | None  # one line, "ExceptionType: message", when the model raised
    latency: float  # seconds from submit() to the result being ready


@dataclass
class _Pending:
    frame: np.ndarray
    timestamp: float
    frame_index: int
    submitted: float
    generation: int


class InferenceWorker:
    """A daemon thread running `segmenter.process` on the newest submitted frame.

    Counters: frames_submitted; frames_processed (finished without error); frames_skipped
    (replaced before being taken, or dropped by reset_stream); errors (process raised).
    """

    def __init__(self, segmenter: Segmenter, name: str = "inference") -> None:
        self.segmenter = segmenter
        self.name = name
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: _Pending | None = None
        self._latest: WorkerResult | None = None
        self._generation = 0  # bumped by reset_stream: results of older frames are dropped
        self._reset_requested = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._finished: deque[float] = deque(maxlen=256)
        self.frames_submitted = 0
        self.frames_processed = 0
        self.frames_skipped = 0
        self.errors = 0

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"worker {self.name!r} already started")
            if self._closed:
                raise RuntimeError(f"worker {self.name!r} is closed; create a new one")
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def submit(self, frame: np.ndarray, timestamp: float, frame_index: int) -> int:
        """Offers a frame; returns at once. A pending unprocessed frame is replaced (skipped).
        Returns the stream generation the frame belongs to (see wait_for)."""
        now = time.monotonic()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"worker {self.name!r} is closed; start a new one")
            self.frames_submitted += 1
            if self._pending is not None:
                self.frames_skipped += 1
            self._pending = _Pending(frame, timestamp, frame_index, now, self._generation)
            self._wake.notify()
            return self._generation

    def latest(self) -> WorkerResult | None:
        """The newest finished result (or error), None before the first one."""
        with self._lock:
            return self._latest

    def wait_for(self, frame_index: int, generation: int, timeout: float) -> WorkerResult | None:
        """Waits until the result (or error) of frame `frame_index`, submitted in `generation`,
        is published; None if the worker closed, the stream was reset meanwhile (the result is
        then dropped) or `timeout` s passed."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._closed and self._generation == generation:
                latest = self._latest
                if latest is not None and latest.frame_index == frame_index:
                    return latest
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._wake.wait(min(left, 0.5))
        return None

    def reset_stream(self) -> None:
        """New source: drops the pending frame and the last result; the segmenter is reset
        before the next frame, and a frame in flight from the old source is not published."""
        with self._lock:
            if self._pending is not None:
                self.frames_skipped += 1
                self._pending = None
            self._latest = None
            self._generation += 1
            self._reset_requested = True

    @property
    def model_fps(self) -> float:
        """Finished results (with or without error) per second over the last 2 s."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._finished if now - t <= FPS_WINDOW_S]
        if len(recent) < 2 or recent[-1] <= recent[0]:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float = 2.0) -> None:
        """Stops the thread (waits up to `timeout` s for a frame in flight)."""
        with self._lock:
            self._closed = True
            self._pending = None
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job, self._pending = self._pending, None
                reset, self._reset_requested = self._reset_requested, False
            result = error = None
            try:
                if reset:
                    self.segmenter.reset()
                result = self.segmenter.process(job.frame)
            except Exception as exc:  # noqa: BLE001 - reported to the caller, never raised
                error = one_line(exc, with_type=True)
            finished = time.monotonic()
            with self._lock:
                self._finished.append(finished)
                if error is None:
                    self.frames_processed += 1
                else:
                    self.errors += 1
                if job.generation == self._generation:
                    self._latest = WorkerResult(job.frame_index, job.timestamp, result, error,
                                                finished - job.submitted)
                    self._wake.notify_all()  # wakes wait_for (the worker re-checks its slot)
