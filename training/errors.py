"""Errors caused by user input; the command-line tools print their message as one line."""

from __future__ import annotations

from models.errors import one_line


class UserError(ValueError):
    """Bad input from the user (data, config, paths); the message names the problem and the fix."""


class DataError(UserError):
    """A data set that cannot be read: missing folder, missing or size-mismatched mask."""


class ConfigError(UserError):
    """A config file or override that does not fit the schema."""


__all__ = ["ConfigError", "DataError", "UserError", "one_line"]
