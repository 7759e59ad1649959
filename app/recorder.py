"""The recorder stage: its own thread and bounded queue; annotated (and raw) video, log, summary.

Files are named `session_<start time>_annotated.mkv`, `_raw.mkv`, `_frames.jsonl`,
`_summary.json` and `_report.html`, created user-only. No frame handed in is ever dropped: a full
queue makes `submit` wait (the encoder fell behind: `behind` says so, and the summary). A write
error (full disk, file-size limit, I/O error) stops the recording with a message; what was
written stays readable, and a small reserve file (deleted first at the end) keeps room for the
summary on a full disk. `stop(cause)` closes everything cleanly and writes the summary
(duration, frames, model rate and latency, polyp episodes, source gaps, what stopped it), then
the HTML report (app/report).
"""

from __future__ import annotations

import errno
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.stream import probability_to_grey

from .outputs import private_dir, session_stem
from .session_log import FrameRecord, ResultTimes, SessionLog, write_json_private
from .video_writer import VideoFileWriter


@dataclass(frozen=True)
class RecordItem:
    """One frame for the recorder: the annotated picture, optionally the raw one, its record."""

    annotated: np.ndarray
    raw: np.ndarray | None
    record: FrameRecord
    # The model's current result (also when the user hid the overlay): its (H, W) float
    # probability (saved as grey, as polyp-eval --out saves maps) or a bool mask (saved 0/255);
    # None: no current result.
    mask: np.ndarray | None = None


_STOP = object()
SUMMARY_RESERVE_BYTES = 128 * 1024  # room kept for the summary (and report) on a full disk


class SessionRecorder:
    """Records one session from a bounded queue on its own thread.

    `submit` waits while the queue is full (a captured frame is never dropped); realtime: the
    video's timestamps are the capture times, otherwise (batch) frame counts at `fps`.
    `prepare`, when given, turns what `submit` got into a RecordItem on the recorder's thread
    (the live stream draws the overlay there, off the capture thread).
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        fps: float,
        container: str = "mkv",
        crf: int = 23,
        record_raw: bool = False,
        record_masks: bool = False,
        queue_size: int = 64,
        realtime: bool = True,
        source: str = "",
        video_name: str = "video",
        frame_names: Sequence[str] | None = None,
        backend: str = "",
        model: str = "",
        report: bool = True,
        on_message: Callable[[str], None] | None = None,
        prepare: Callable[[Any], RecordItem] | None = None,
    ) -> None:
        self.folder = private_dir(folder)
        self.fps = fps if fps > 0 else 25.0
        self.container, self.crf, self.record_raw = container, crf, record_raw
        self.realtime = realtime
        self.source, self.backend, self.model = source, backend, model
        self.on_message = on_message or (lambda message: None)
        self.started = time.time()
        self.stem = session_stem(self.folder, self.started)
        self.paths: dict[str, Path] = {
            "annotated": self.folder / f"{self.stem}_annotated.{container}",
            "log": self.folder / f"{self.stem}_frames.jsonl",
            "summary": self.folder / f"{self.stem}_summary.json",
        }
        if record_raw:
            self.paths["raw"] = self.folder / f"{self.stem}_raw.{container}"
        if record_masks:  # <stem>_masks/<video>/<frame>.png: the layout polyp-eval --pred reads
            self.paths["masks"] = self.folder / f"{self.stem}_masks" / video_name
        self.frame_names = list(frame_names) if frame_names is not None else None
        if report:
            self.paths["report"] = self.folder / f"{self.stem}_report.html"
        self.prepare = prepare
        self.frames_submitted = 0
        self.frames_written = 0
        self.error: str | None = None
        self.error_cause = ""  # "disk full" or "write error" once a write failed
        self.stopped_by = ""
        self.max_backlog = 0  # most frames ever waiting for the encoder
        self.waited_s = 0.0  # time submit() waited for room (the encoder fell behind)
        self._behind_at = max(2, queue_size // 2)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._writers: dict[str, VideoFileWriter] = {}
        self._log: SessionLog | None = None
        self._first: FrameRecord | None = None
        self._last: FrameRecord | None = None
        self._size: tuple[int, int] | None = None
        self._stopping = False
        self._reserve = self.folder / f".{self.stem}.reserve"
        self._reserve_room()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def _reserve_room(self) -> None:
        """A hidden file of SUMMARY_RESERVE_BYTES, deleted before the summary is written."""
        fd = os.open(self._reserve, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * SUMMARY_RESERVE_BYTES)
        finally:
            os.close(fd)

    @property
    def active(self) -> bool:
        """True until stop() was asked or a write error stopped the recording."""
        return not self._stopping and self.error is None

    @property
    def elapsed_s(self) -> float:
        return time.time() - self.started

    @property
    def backlog(self) -> int:
        """Frames waiting for the encoder."""
        return self._queue.qsize()

    @property
    def behind(self) -> bool:
        """The encoder is falling behind the capture (its queue is half full or more)."""
        return self.active and self.backlog >= self._behind_at

    def submit(self, item: Any) -> bool:
        """Queues a frame (a RecordItem, or what `prepare` takes), waiting while the queue is
        full; False only when the recording is no longer active (stopped, write error)."""
        if not self.active:
            return False
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            started = time.monotonic()
            while True:
                if not (self.active and self._thread.is_alive()):
                    return False
                try:
                    self._queue.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            self.waited_s += time.monotonic() - started
        self.frames_submitted += 1
        self.max_backlog = max(self.max_backlog, self._queue.qsize())
        return True

    def stop(self, cause: str = "user") -> None:
        """Asks the thread to write what is queued, close the files and write the summary.
        cause: what ended the session ("end of source", "user", "signal", "max frames",
        "source lost"); a write error that stopped the recording earlier takes precedence."""
        if self._stopping:
            return
        self._stopping = True
        self.stopped_by = cause
        while self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=0.2)
                return
            except queue.Full:
                continue

    def join(self, timeout: float | None = None) -> bool:
        """Waits for the files to be closed; True when they are."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if self.error is not None:
                continue
            try:
                self._write(self.prepare(item) if self.prepare is not None else item)
            except Exception as error:  # noqa: BLE001 - any failure stops recording, not the app
                self._fail(error)
        self._close(stopped_by=self.error_cause or self.stopped_by or "user")

    def _write(self, item: RecordItem) -> None:
        record = item.record
        if self._size is None:
            self._first = record
            self._open(item.annotated)
        assert self._log is not None and self._size is not None and self._first is not None
        pts = self._pts_ms(record)
        self._writers["annotated"].write(self._fit(item.annotated), pts)
        if "raw" in self._writers and item.raw is not None:
            self._writers["raw"].write(self._fit(item.raw), pts)
        if "masks" in self.paths:
            self._write_mask(item)
        self._log.write(record, pts / 1000.0)
        self._last = record
        self.frames_written += 1

    def _open(self, image: np.ndarray) -> None:
        height, width = image.shape[:2]
        self._size = (width, height)
        for name in ("annotated", "raw"):
            if name in self.paths:
                self._writers[name] = VideoFileWriter(
                    self.paths[name], width, height, self.fps, self.container, self.crf
                )
        self._log = SessionLog(self.paths["log"])
        if "masks" in self.paths:
            private_dir(self.paths["masks"].parent)
            private_dir(self.paths["masks"])

    def _write_mask(self, item: RecordItem) -> None:
        """`<frame>.png` (its position in the source, or for a folder of frames its file's
        name: the name polyp-eval --pred pairs with the source's frames): the probability as
        grey (a bool mask as 0/255); all 0 without a result. A frame seen again (a looped
        file, a reconnected stream) gets `<frame>_s<session frame>`, so no map overwrites
        another."""
        height, width = item.annotated.shape[:2]
        if item.mask is None:
            grey = np.zeros((height, width), np.uint8)
        elif item.mask.dtype == np.bool_:
            grey = np.where(item.mask, 255, 0).astype(np.uint8)
        else:
            grey = probability_to_grey(item.mask)
        record = item.record
        names = self.frame_names
        name = names[record.frame] if names and record.frame < len(names) else f"{record.frame:06d}"
        if record.session_frame is not None and record.session_frame != record.frame:
            name += f"_s{record.session_frame:06d}"
        path = self.paths["masks"] / f"{name}.png"
        if not cv2.imwrite(str(path), grey):
            raise OSError(f"could not write {path}")
        path.chmod(0o600)

    def _pts_ms(self, record: FrameRecord) -> int:
        assert self._first is not None
        if self.realtime:
            return round((record.timestamp - self._first.timestamp) * 1000.0)
        return round((_counter(record) - _counter(self._first)) * 1000.0 / self.fps)

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """Frames of another size (a device reconnected differently) are scaled to the first's."""
        assert self._size is not None
        if (image.shape[1], image.shape[0]) != self._size:
            return cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        return image

    def _fail(self, error: Exception) -> None:
        reason = (error.strerror if isinstance(error, OSError) else None) or str(error)
        full = isinstance(error, OSError) and error.errno == errno.ENOSPC
        self.error_cause = "disk full" if full else "write error"
        seconds = self.frames_written / self.fps
        self.error = (
            f"recording stopped: {reason} while writing to {self.folder}; kept "
            f"{self.frames_written} frames ({seconds:.1f} s) in {self.stem}_*"
        )
        self.on_message(self.error)

    def _close(self, stopped_by: str) -> None:
        for writer in self._writers.values():
            try:
                writer.close()
            except OSError:
                pass  # a full disk: the frames already written stay playable
        if self._log is not None:
            try:
                self._log.close()
            except OSError:
                pass
        self._reserve.unlink(missing_ok=True)  # the room kept for the summary
        try:
            write_json_private(self.paths["summary"], self.summary(stopped_by))
        except OSError as error:
            if self.error is None:
                self._fail(error)
            return
        if "report" in self.paths and self.frames_written:
            self._write_report()

    def _write_report(self) -> None:
        """The HTML report; a failure is a message, the recording itself stays complete."""
        from .report.page import write_report  # matplotlib: loaded only when a recording closes

        try:
            write_report(self.paths["summary"], self.paths["report"])
        except Exception as error:  # noqa: BLE001 - the report is a convenience, never fatal
            self.on_message(f"session report not written: {type(error).__name__}: {error}")

    def summary(self, stopped_by: str = "user") -> dict[str, Any]:
        """Duration, frames, the encoder's backlog, source gaps and polyp episodes so far.
        frames_captured: frames handed to the recorder; dropped_frames: session frames between
        the first and the last recorded that are missing (0 unless a write failed)."""
        first, last = self._first, self._last
        span = (_counter(last) - _counter(first) + 1) if first and last else 0
        duration = (self._pts_ms(last) / 1000.0 + 1.0 / self.fps) if first and last else 0.0
        episodes = self._log.episodes.finish() if self._log else []
        results = self._log.results if self._log else ResultTimes()
        return {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "ended": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "duration_s": round(duration, 3),
            "frames": self.frames_written,
            "frames_captured": self.frames_submitted,
            "dropped_frames": max(0, span - self.frames_written),
            "encoder_max_backlog": self.max_backlog,
            "encoder_behind": self.max_backlog >= self._behind_at,
            "capture_waited_for_encoder_s": round(self.waited_s, 3),
            "fps": self.fps,
            "source": self.source,
            "backend": self.backend,
            "model": self.model,
            **results.summary(duration),
            "stopped_by": stopped_by,
            "error": self.error,
            "gaps": self._log.gaps if self._log else [],
            "episodes": episodes,
            "files": {name: path.name for name, path in self.paths.items()},
        }


def _counter(record: FrameRecord) -> int:
    """The session's frame counter of a record (its source position where none was kept)."""
    return record.session_frame if record.session_frame is not None else record.frame
