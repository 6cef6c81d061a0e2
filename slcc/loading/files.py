"""Reading input files safely: only regular files (or symlinks to them), never blocking.

A FIFO, socket or device named as a Dockerfile, ignore file or TOML file would block a plain
``open`` forever (a FIFO waits for a writer) or read endless data (``/dev/zero``), so the
file is opened non-blocking and checked with ``fstat`` before anything is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from slcc.errors import InputError


def read_regular(path: Path, what: str = "file") -> bytes:
    """The bytes of ``path``; InputError naming it if it is missing, special or unreadable.

    FileNotFoundError is left to the caller, which knows whether a missing file is an error.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except ValueError:
        raise InputError(f"{what} path contains a NUL byte", repr(str(path))) from None
    except OSError as exc:
        raise InputError(f"cannot read {what} ({exc.strerror})", path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (FIFO, socket or device)"
            raise InputError(f"{what} is {kind}", path)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(f"cannot read {what} ({exc.strerror})", path) from None
    finally:
        os.close(fd)


def read_text(path: Path, what: str = "file") -> str:
    """``read_regular`` decoded as UTF-8 (a BOM is dropped); undecodable text is an InputError."""
    data = read_regular(path, what)
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{what} is not UTF-8 text (invalid byte at line {line})", path) from None
