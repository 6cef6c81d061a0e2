"""The two kinds of failure slcc reports: bad input (exit 2) and engine faults (exit 1)."""

from __future__ import annotations

from pathlib import Path


class SlccError(Exception):
    """Base of every error slcc reports to the user as one line, without a traceback."""

    exit_code = 1


class InputError(SlccError):
    """The user's input is wrong: flavor files, settings, command-line values. Exit code 2."""

    exit_code = 2

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


class EngineError(SlccError):
    """Docker, buildx or the registry failed or cannot be reached. Exit code 1."""
