"""The one-line form of an error, shared by every command and the live app's model banner."""

from __future__ import annotations

MAX_CHARS = 300


def one_line(error: BaseException, with_type: bool = False) -> str:
    """The user-facing line of an error, also when a DataLoader worker wrapped it.

    A worker re-raises as `Caught DataError in DataLoader worker process 0.` followed by the
    original traceback, whose last line is `training.errors.DataError: <message>`.
    with_type: prefix the exception's class name ("ValueError: ...", cut to MAX_CHARS), for a
    banner where the kind of failure is the useful part.
    """
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    line = lines[0]
    if len(lines) > 1 and lines[0].startswith("Caught "):
        last = lines[-1]
        head, sep, message = last.partition(": ")
        line = message if sep and "Error" in head else last
    return f"{type(error).__name__}: {line[:MAX_CHARS]}" if with_type else line
