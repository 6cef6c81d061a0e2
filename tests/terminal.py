"""Running a command on a real pseudo-terminal and reading back what a user would have seen.

The child gets a pty of a fixed size as stdin, stdout and stderr (so it sees a terminal);
everything it writes is replayed through pyte, a VT100 emulator, and the screen is kept
after every read: those snapshots are the frames a user saw.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyte


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    frames: tuple[tuple[str, ...], ...]  # each frame: the screen's lines, right-stripped
    raw: bytes

    @property
    def final(self) -> tuple[str, ...]:
        return self.frames[-1] if self.frames else ()

    def text(self) -> str:
        return "\n\n".join("\n".join(line for line in frame if line) for frame in self.frames)


Action = tuple[str, Callable[["subprocess.Popen[bytes]"], None]]


def run_in_terminal(argv: Sequence[str], cwd: Path, env: Mapping[str, str], columns: int = 110,
                    lines: int = 60, timeout: float = 600, actions: Sequence[Action] = ()) -> TerminalRun:
    """Run ``argv`` on a pty until it exits; each action runs once its marker has been printed
    (after the previous action's marker), e.g. to edit a file a watch loop sees, or to press Ctrl-C."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    screen = pyte.Screen(columns, lines)
    stream = pyte.ByteStream(screen)
    frames: list[tuple[str, ...]] = []
    raw = bytearray()
    deadline = time.monotonic() + timeout
    pending, seen = list(actions), 0
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            raw += chunk
            stream.feed(chunk)
            text = bytes(raw).decode(errors="replace")
            while pending and (found := text.find(pending[0][0], seen)) >= 0:
                seen = found + len(pending[0][0])
                pending.pop(0)[1](proc)
            frame = tuple(line.rstrip() for line in screen.display)
            if not frames or frames[-1] != frame:
                frames.append(frame)
        else:
            proc.kill()
            raise AssertionError(f"{argv} did not finish in {timeout} s:\n{bytes(raw).decode(errors='replace')}")
        returncode = proc.wait(timeout=60)
    finally:
        os.close(master)
    return TerminalRun(returncode, tuple(frames), bytes(raw))
