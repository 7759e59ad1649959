"""Errors caused by user input; the command-line tools print their message as one line."""

from __future__ import annotations


class UserError(ValueError):
    """Bad input from the user (data, config, paths); the message names the problem and the fix."""


class DataError(UserError):
    """A data set that cannot be read: missing folder, missing or size-mismatched mask."""


class ConfigError(UserError):
    """A config file or override that does not fit the schema."""


def one_line(error: BaseException) -> str:
    """The user-facing line of an error, also when a DataLoader worker wrapped it.

    A worker re-raises as `Caught DataError in DataLoader worker process 0.` followed by the
    original traceback, whose last line is `training.errors.DataError: <message>`.
    """
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if len(lines) > 1 and lines[0].startswith("Caught "):
        last = lines[-1]
        head, sep, message = last.partition(": ")
        return message if sep and "Error" in head else last
    return lines[0]
