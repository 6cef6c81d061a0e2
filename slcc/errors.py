"""The two kinds of failure slcc reports: bad input (exit 2) and engine faults (exit 1)."""

from __future__ import annotations

from collections.abc import Sequence
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
    """Docker, buildx or the registry failed or cannot be reached. Exit code 1.

    When a command failed, it is kept with its exit code and the tail of its stderr, so logs
    and reports can say exactly what ran.
    """

    def __init__(self, message: str, command: Sequence[str] = (), returncode: int | None = None,
                 stderr_tail: str = "") -> None:
        self.command = tuple(command)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        super().__init__(message)


class WriteError(SlccError):
    """A file slcc writes (state, bake file, export) could not be written: full disk, read-only. Exit 1."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: cannot write ({reason})")
