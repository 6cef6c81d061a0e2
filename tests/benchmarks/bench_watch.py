"""Watch save-to-image latency: from writing a client file to `slcc watch --json` reporting the cycle.

The figure is what a developer waits for: watchdog's event delivery, the debounce (30 ms for a
lone save), re-hashing, the bake of the affected steps and the report line, measured from the
outside on the wall clock. Each cycle's JSON line also says how long its build took and how long
BuildKit itself worked in that build's bake (``buildkit_seconds``, from the vertex timings), so
the latency can be set against the BuildKit time of the stale steps alone (issue 14: <= 1.1x).
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import bench_tools as bt

FIRST_CYCLE_TIMEOUT = 900.0  # the initial cycle may have to build the whole flavor
CYCLE_TIMEOUT = 600.0


class _Cycles:
    """Reads `slcc watch --json` stdout on a thread; one JSON object per line is one cycle."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                self._queue.put((time.monotonic(), json.loads(line)))

    def next(self, timeout: float) -> tuple[float, dict[str, Any]]:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            msg = f"no watch cycle within {timeout:.0f} s"
            raise bt.ToolError(msg) from None


def bench_watch(ws: Path, reps: int, log: Path) -> dict[str, list[float]]:
    """Per edit: latency (save to JSON line), the cycle's own seconds, its build's seconds and
    BuildKit's span in that build."""
    env = bt.bench_env(SLCC_REPOSITORY=bt.SLCC_REPOSITORY)
    argv = [*bt.slcc_argv(), "watch", bt.FLAVOR, "--json", "--progress", "quiet"]
    with log.open("w") as err:
        proc = subprocess.Popen(argv, cwd=ws, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    cycles = _Cycles(proc)
    latencies: list[float] = []
    cycle_seconds: list[float] = []
    build_seconds: list[float] = []
    bake_seconds: list[float] = []
    buildkit_seconds: list[float] = []
    try:
        _, first = cycles.next(FIRST_CYCLE_TIMEOUT)
        _check(first)
        for _ in range(reps):
            start = time.monotonic()
            bt.edit_client(ws, bt.nonce())
            arrived, cycle = cycles.next(CYCLE_TIMEOUT)
            _check(cycle)
            latencies.append(arrived - start)
            cycle_seconds.append(float(cycle["seconds"]))
            if cycle.get("buildkit_seconds") is None:
                raise bt.ToolError(f"watch cycle {cycle.get('cycle')} baked nothing: {cycle.get('steps')}")
            build_seconds.append(float(cycle["build_seconds"]))
            bake_seconds.append(float(cycle["bake_seconds"]))
            buildkit_seconds.append(float(cycle["buildkit_seconds"]))
    finally:
        proc.send_signal(signal.SIGINT)  # watch stops bake and watchdog cleanly on Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        bt.restore_client(ws)
    return {"latency_s": latencies, "cycle_seconds": cycle_seconds, "build_seconds": build_seconds,
            "bake_seconds": bake_seconds, "buildkit_seconds": buildkit_seconds}


def _check(cycle: dict[str, Any]) -> None:
    if cycle.get("result") != "ok":
        msg = f"watch cycle {cycle.get('cycle')} was {cycle.get('result')}: {cycle.get('detail')}"
        raise bt.ToolError(msg)
