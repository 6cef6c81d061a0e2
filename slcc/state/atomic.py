"""Atomic file writes: readers see the old file or the new one, never a torn one.

Files get the permissions a plain ``open`` would give them (0666 minus the umask), not
mkstemp's 0600: bake files, reports and archives are for the user and their tools. Every
OSError becomes a WriteError naming the path (one line, exit 1), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from slcc.errors import WriteError


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it; set back at once
    os.umask(mask)
    return mask


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def write_bytes_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and ``os.replace``.

    ``durable`` flushes the data to disk before the rename, so a crash leaves the old file or
    the new one. Without it the write is still atomic for readers, and saves an fsync (tens of
    milliseconds on a busy disk) where a crash loses the whole thing anyway: a run's own bake
    file and report.
    """
    import tempfile  # noqa: PLC0415 - tempfile pulls in random; a no-op writes nothing

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(path, _reason(exc)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        # Also on KeyboardInterrupt: never leave the temp file behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(path, _reason(exc)) from None
        raise


def write_text_atomic(path: Path, text: str, durable: bool = True) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), durable)


def write_user_file(path: Path, text: str) -> None:
    """Write a file the user named (``-o``): through a symlink, never replacing the link.

    A target that exists and is not a regular file (``/dev/stdout``, a FIFO, a pipe) is
    written in place; anything else is written atomically at the link's resolved target.
    """
    try:
        mode: int | None = os.stat(path).st_mode  # follows links, also /dev/stdout's magic one
    except FileNotFoundError:
        mode = None  # nothing there yet, or a dangling link: create its target
    except OSError as exc:
        raise WriteError(path, _reason(exc)) from None
    if mode is None or stat.S_ISREG(mode):
        write_text_atomic(Path(os.path.realpath(path)), text)
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise WriteError(path, _reason(exc)) from None
