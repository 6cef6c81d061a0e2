"""Running `docker buildx bake` as a child process: tee its output, follow progress, stop it cleanly."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from slcc.engine.buildx_binary import standalone_buildx
from slcc.engine.protocol import ENGINE_HINT, BakeOutcome, BakeRequest, CancelToken, CommandJournal, CommandRecord
from slcc.engine.signals import interrupt_reason
from slcc.errors import EngineError
from slcc.progress.bake_log import ProgressParser

_STOP_WAITS = (15.0, 5.0, 5.0)  # seconds after SIGINT, SIGTERM and SIGKILL to bake's process group
_POLL_SECONDS = 0.2  # how long a quiet bake goes before the cancel token is looked at again
# The guard needs the standard library only: started isolated and without site (no venv .pth
# files, no slcc package import), it is on bake's critical path for less time.
GUARD = ("-I", "-S", str(Path(__file__).with_name("guard.py")))


def bake_command(request: BakeRequest, plugin: str | None = None) -> list[str]:
    """The bake command line; ``plugin`` (the buildx binary) runs bake without the docker CLI
    in front (slcc.engine.buildx_binary), except in another docker context (the CLI's flag)."""
    if plugin and not request.context:
        cmd = [plugin, "bake", "-f", str(request.file), "--progress=plain"]
    else:
        context = ["--context", request.context] if request.context else []
        cmd = ["docker", *context, "buildx", "bake", "-f", str(request.file), "--progress=plain"]
    if request.builder:
        cmd += ["--builder", request.builder]
    if request.push:
        cmd.append("--push")
    if request.no_cache:
        cmd.append("--no-cache")
    return [*cmd, *request.targets]


def run_bake(request: BakeRequest, journal: CommandJournal, on_line: Callable[[str], None] | None = None,
             cancel: CancelToken | None = None) -> BakeOutcome:
    """Run bake, tee its output to ``request.log``, stop it cleanly on Ctrl-C or when ``cancel`` is set."""
    token = cancel or CancelToken()
    command = bake_command(request, standalone_buildx())
    request.log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    if shutil.which("docker") is None:
        journal.add(CommandRecord(tuple(command), None, 0.0))
        raise EngineError("the docker CLI is not installed; " + ENGINE_HINT, command)
    lifeline, keep = os.pipe()  # slcc keeps ``keep`` open; its end-of-file tells the guard slcc is gone
    try:
        # Own session: a terminal Ctrl-C reaches slcc only, and slcc stops bake deliberately.
        proc = subprocess.Popen(
            [sys.executable, *GUARD, *command], cwd=request.cwd, stdin=lifeline,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
            start_new_session=True, pass_fds=request.hold_fds, env={**os.environ, **request.variables},
        )
    finally:
        os.close(lifeline)
    parser = ProgressParser(request.targets)
    try:
        with request.log.open("w", encoding="utf-8") as log:
            stopped = _follow(proc, log, parser, on_line, token)
            if stopped:
                _stop(proc, token)
                log.write(f"\n[slcc] bake stopped ({token.reason})\n")
            _wait(proc, token)
    finally:
        os.close(keep)
    seconds = round(time.monotonic() - start, 2)
    journal.add(CommandRecord(tuple(command), proc.returncode, seconds))
    # A restart asked for after bake ended on its own changes nothing; an interrupt always counts.
    cancelled = stopped or token.reason in ("user-interrupt", "signal")
    return BakeOutcome(proc.returncode, seconds, parser.result(),
                       token.reason if cancelled else None, token.signum if cancelled else None)


def _follow(proc: subprocess.Popen[str], log: IO[str], parser: ProgressParser,
            on_line: Callable[[str], None] | None, token: CancelToken) -> bool:
    """Tee bake's output until it ends (False) or ``token`` asks to stop it (True)."""
    assert proc.stdout is not None
    lines = _pump(proc.stdout)
    try:
        while (raw := _next_line(lines)) is not None:
            if raw:
                log.write(raw)
                line = raw.rstrip("\n")
                parser.feed(line, time.monotonic())
                if on_line:
                    on_line(line)
            if token.cancelled:
                return True
    except KeyboardInterrupt as exc:
        token.cancel(*interrupt_reason(exc))
        return True
    return False


def _pump(stream: IO[str]) -> queue.Queue[str | None]:
    """Read ``stream`` on a thread, so the cancel token is looked at even while bake prints nothing."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        with stream:  # bake's end of the pipe is closed once it is read to the end
            for raw in stream:
                lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, name="bake-output", daemon=True).start()
    return lines


def _next_line(lines: queue.Queue[str | None]) -> str | None:
    """The next output line; "" after a quiet poll interval; None at EOF."""
    try:
        return lines.get(timeout=_POLL_SECONDS)
    except queue.Empty:
        return ""


def _stop(proc: subprocess.Popen[str], token: CancelToken) -> None:
    """SIGINT lets buildx cancel its solves; escalate if it does not exit.

    A Ctrl-C while stopping (say, during a watch restart) is recorded, never lost, and does not
    cut the stopping short.
    """
    for sig, wait in zip((signal.SIGINT, signal.SIGTERM, signal.SIGKILL), _STOP_WAITS, strict=True):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt as exc:
            token.cancel(*interrupt_reason(exc))


def _wait(proc: subprocess.Popen[str], token: CancelToken) -> None:
    """Wait for bake's exit; a Ctrl-C meanwhile stops it instead of leaving it behind."""
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt as exc:
            token.cancel(*interrupt_reason(exc))
            _stop(proc, token)
