"""Runs a bake for slcc and makes sure it never outlives slcc, however slcc ends.

    python -I -S slcc/engine/guard.py CMD...     (stdin: slcc's lifeline pipe; standard library only)

slcc starts this guard in a new session (so a terminal's Ctrl-C reaches slcc only) with the
read end of a pipe as stdin, and keeps the write end. The guard runs CMD in its own process
group and waits for it. When the pipe reaches end-of-file while CMD still runs, slcc is gone
(kill -9 included): the guard interrupts the group as slcc would (SIGINT, so buildx cancels
its solves), escalates to SIGKILL, and exits. File descriptors slcc passes to the guard (the
build lock) stay open until the bake has ended, so the lock outlives slcc exactly as long as
its bake does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

GRACE_SECONDS = 10.0  # after SIGINT, before SIGKILL


def _watch_lifeline(child: subprocess.Popen[bytes]) -> None:
    """Block until slcc's end of the pipe closes; then stop the bake if it still runs."""
    while os.read(0, 4096):
        pass
    if child.poll() is not None:
        return
    os.killpg(os.getpgid(0), signal.SIGINT)
    try:
        child.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(os.getpgid(0), signal.SIGKILL)


def main(argv: list[str]) -> int:
    # A no-op handler, not SIG_IGN: the child gets default handlers back at exec. slcc (or
    # the lifeline watcher) interrupts the whole group; the guard stays until the bake ends.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: None)
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    threading.Thread(target=_watch_lifeline, args=(child,), daemon=True).start()
    code = child.wait()
    return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
