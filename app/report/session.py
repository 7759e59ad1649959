"""A recorded session as the report reads it: its summary, its frame log and its video."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..session_log import read_log

SUMMARY_SUFFIX = "_summary.json"


class SessionError(ValueError):
    """The session cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class RecordedSession:
    """summary: summary.json as written by the recorder; records: frames.jsonl, one per frame."""

    folder: Path
    stem: str
    summary: dict[str, Any]
    records: list[dict[str, Any]]

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
    records = read_log(log_path) if log_path.is_file() else []
    return RecordedSession(folder, stem, summary, records)
