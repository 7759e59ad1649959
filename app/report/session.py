"""A recorded session as the report reads it: its summary, its frame log and its video."""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..session_log import iter_log

SUMMARY_SUFFIX = "_summary.json"
STALE_MODES = ("stale", "off")  # overlay modes of a frame drawn without a fresh result


class SessionError(ValueError):
    """The session cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class FrameColumns:
    """What the report needs of the frame log, one array entry per logged frame.

    Columns, not a list of dicts: an hour at 30 fps is 108,000 lines, a few MiB as arrays and
    hundreds of MiB as Python objects (the report is written as the recording closes).
    """

    t: np.ndarray  # float64 seconds into the recording
    score: np.ndarray  # float32, NaN where the frame had no result
    present: np.ndarray  # bool: a polyp mask was drawn
    stale: np.ndarray  # bool: the overlay was stale or off
    counter: np.ndarray  # int64 session frame counter (older logs: the frame number)
    frame: np.ndarray  # int64 frame number as logged (source position)
    mask_area: np.ndarray  # int64 pixels of the drawn mask

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def read(cls, path: Path) -> FrameColumns:
        """The columns of a JSON-lines frame log, read line by line (see iter_log)."""
        t, score, counter, frame, area = array("d"), array("f"), array("q"), array("q"), array("q")
        present, stale = bytearray(), bytearray()
        for record in iter_log(path):
            t.append(record["t"])
            score.append(float("nan") if record["score"] is None else record["score"])
            present.append(bool(record["polyp"]))
            stale.append(record["overlay"] in STALE_MODES)
            frame.append(record["frame"])
            session_frame = record.get("session_frame")
            counter.append(record["frame"] if session_frame is None else session_frame)
            area.append(record.get("mask_area", 0))
        return cls(
            np.frombuffer(t, np.float64), np.frombuffer(score, np.float32),
            np.frombuffer(present, np.bool_), np.frombuffer(stale, np.bool_),
            np.frombuffer(counter, np.int64), np.frombuffer(frame, np.int64),
            np.frombuffer(area, np.int64),
        )

    @classmethod
    def empty(cls) -> FrameColumns:
        floats, ints, flags = np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.bool_)
        return cls(floats, floats.astype(np.float32), flags, flags, ints, ints, ints)


@dataclass(frozen=True)
class RecordedSession:
    """summary: summary.json as written by the recorder; frames: its frame log (frames.jsonl)."""

    folder: Path
    stem: str
    summary: dict[str, Any]
    frames: FrameColumns

    def path(self, kind: str) -> Path | None:
        """The session's file of `kind` (annotated, raw, log, ...), None when it has none."""
        name = self.summary.get("files", {}).get(kind)
        return self.folder / name if name else None


def find_summary(target: str | Path) -> Path:
    """The summary of SESSION: a summary file, any file of the session, or a folder (newest)."""
    path = Path(target)
    if path.is_dir():
        summaries = sorted(path.glob(f"session_*{SUMMARY_SUFFIX}"), key=lambda p: p.stat().st_mtime)
        if not summaries:
            raise SessionError(f"no session_*{SUMMARY_SUFFIX} in {path}; pass a recording folder")
        return summaries[-1]
    stem = path.name.rsplit("_", 1)[0] if "_" in path.name else path.name
    summary = path.with_name(stem + SUMMARY_SUFFIX)
    if not summary.is_file():
        if not path.exists():
            raise SessionError(f"{path} not found; pass a recording folder or a session file")
        raise SessionError(
            f"{summary.name} not found beside {path.name}; the recording did not close cleanly"
        )
    return summary


def load_session(target: str | Path) -> RecordedSession:
    """Reads the summary and the frame log of SESSION (see find_summary)."""
    summary_path = find_summary(target)
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SessionError(f"cannot read {summary_path}: {error}") from None
    if not isinstance(summary, dict) or "frames" not in summary:
        raise SessionError(f"{summary_path} is not a polyp-live session summary")
    stem = summary_path.name[: -len(SUMMARY_SUFFIX)]
    folder = summary_path.parent
    log_name = summary.get("files", {}).get("log", f"{stem}_frames.jsonl")
    log_path = folder / log_name
    frames = FrameColumns.read(log_path) if log_path.is_file() else FrameColumns.empty()
    return RecordedSession(folder, stem, summary, frames)
