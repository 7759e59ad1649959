"""The session log: one JSON line per recorded frame, polyp episodes, and the session summary."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .outputs import PRIVATE_FILE


@dataclass(frozen=True)
class FrameRecord:
    """What the log keeps for one frame (the result drawn on it, which may be older).

    frame: the frame's position in the source (restarts when a file loops or a stream is
    reopened); session_frame: the session's capture counter (never restarts).
    capture_time: wall-clock time of capture (Unix seconds); timestamp: time.monotonic() of it.
    polyp/boxes/mask_area: of the mask drawn (polyp is True exactly when mask_area > 0, boxes
    are empty without one); score: the model's component score (None without a result).
    latency_ms: capture-to-result time of that result; result_frame: the source position it was
    computed on; result_age_frames/result_age_ms: how much older than this frame it is.
    gap_s: seconds without frames before this one (a lost live source came back), else None.
    """

    frame: int
    timestamp: float
    capture_time: float
    polyp: bool | None = None
    score: float | None = None
    boxes: list[list[float]] = field(default_factory=list)
    mask_area: int = 0
    latency_ms: float | None = None
    result_frame: int | None = None
    overlay: str = "waiting"
    error: str | None = None
    session_frame: int | None = None
    result_age_frames: int | None = None
    result_age_ms: float | None = None
    gap_s: float | None = None


class EpisodeTracker:
    """Joins frames with a polyp into episodes; gaps shorter than `max_gap_s` do not split one."""

    def __init__(self, max_gap_s: float = 0.5) -> None:
        self.max_gap_s = max_gap_s
        self.episodes: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None

    def update(
        self, frame: int, t: float, present: bool, score: float | None, area: int = 0
    ) -> None:
        """t: seconds since the session start; area: mask pixels on this frame."""
        current = self._open
        if current is not None and t - current["end_s"] > self.max_gap_s:
            self._close()
            current = None
        if not present:
            return
        if current is None:
            self._open = {
                "start_s": t, "end_s": t, "start_frame": frame, "end_frame": frame,
                "max_score": score, "max_area": area, "peak_frame": frame, "peak_s": t,
            }
            return
        current["end_s"], current["end_frame"] = t, frame
        if score is not None and (current["max_score"] is None or score > current["max_score"]):
            current["max_score"] = score
        if area > current["max_area"]:  # the frame with the largest mask: the episode's picture
            current["max_area"], current["peak_frame"], current["peak_s"] = area, frame, t

    def _close(self) -> None:
        if self._open is not None:
            episode = dict(self._open)
            for key in ("start_s", "end_s", "peak_s"):
                episode[key] = round(episode[key], 3)
            self.episodes.append(episode)
        self._open = None

    def finish(self) -> list[dict[str, Any]]:
        self._close()
        return self.episodes


def result_session_frame(record: FrameRecord) -> int | None:
    """The session frame a record's result was computed on: source positions restart when a file
    loops or a stream reconnects, so only the session counter tells results apart."""
    if record.session_frame is not None and record.result_age_frames is not None:
        return record.session_frame - record.result_age_frames
    return record.result_frame


class ResultTimes:
    """The model's results seen in a session (each counted once, however many frames showed it):
    how many, and their capture-to-result latency."""

    def __init__(self) -> None:
        self.latency_ms: dict[int, float] = {}

    def update(self, result_id: int | None, latency_ms: float | None) -> None:
        """result_id: the session frame the result was computed on (unique in the session)."""
        if result_id is not None and latency_ms is not None:
            self.latency_ms.setdefault(result_id, latency_ms)

    def summary(self, duration_s: float) -> dict[str, Any]:
        """model_fps: results shown per second of session; latency p50/p95 in ms (None: none)."""
        latencies = sorted(self.latency_ms.values())
        count = len(latencies)
        return {
            "model_fps": round(count / duration_s, 2) if duration_s > 0 else 0.0,
            "results": count,
            "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if count else None,
            "latency_ms_p95": round(float(np.percentile(latencies, 95)), 1) if count else None,
        }


class SessionLog:
    """Appends FrameRecords as JSON lines to a user-only file, flushed line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        self._file = os.fdopen(fd, "w", encoding="utf-8")
        self.episodes = EpisodeTracker()
        self.results = ResultTimes()
        self.gaps: list[dict[str, Any]] = []  # lost live source: where and how long
        self.lines = 0

    def write(self, record: FrameRecord, t: float) -> None:
        """t: the frame's time in the session (seconds), as in the video's timestamps."""
        line = {"t": round(t, 4), **asdict(record)}
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()
        self.lines += 1
        if record.gap_s is not None:
            self.gaps.append({"t": round(t, 3), "frame": record.frame,
                              "session_frame": record.session_frame, "seconds": record.gap_s})
        self.episodes.update(record.frame, t, bool(record.polyp), record.score, record.mask_area)
        self.results.update(result_session_frame(record), record.latency_ms)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def write_json_private(path: Path, data: dict[str, Any]) -> None:
    """Writes `data` to a user-only file atomically (temporary file, then rename)."""
    write_text_private(path, json.dumps(data, indent=2) + "\n")


def write_text_private(path: Path, text: str) -> None:
    """Writes `text` to a user-only file atomically (temporary file, then rename)."""
    temporary = path.with_name(path.name + ".part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def iter_log(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines log one at a time (an hour's log is never held whole); a
    last line cut by a crash is skipped."""
    with Path(path).open(encoding="utf-8") as file:
        for line in file:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def read_log(path: Path) -> list[dict[str, Any]]:
    """All records of a JSON-lines log (see iter_log), for short logs and tests."""
    return list(iter_log(path))


def episodes_from_log(path: Path, max_gap_s: float = 0.5) -> list[dict[str, Any]]:
    """Rebuilds the polyp episodes from a log (e.g. one left without summary by a crash)."""
    tracker = EpisodeTracker(max_gap_s)
    for record in iter_log(path):
        tracker.update(
            record["frame"], record["t"], bool(record["polyp"]), record["score"],
            record.get("mask_area", 0),
        )
    return tracker.finish()
