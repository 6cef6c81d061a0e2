"""Image digests in the hash, on the python3 flavor: what they cost a no-op, and `slcc lock`.

Rows (slcc only; the workspace must hold a built python3, as after the noop row's warm-up):
  noop-local  no-op build in scope local: one image digest query per distinct external image
  noop-rel    no-op build in scope rel: digests read from slcc.lock, no query
  lock        `slcc lock` writing slcc.lock from scratch (one query per image, atomic write)
plus, in the notes, one in-process digest query (Engine API over the unix socket).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import bench_tools as bt

from slcc.engine.docker import DockerEngine


def _times(argv: list[str], ws: Path, env: dict[str, str], reps: int, before: Path | None = None) -> list[float]:
    samples = []
    for _ in range(reps):
        if before is not None:
            before.unlink(missing_ok=True)
        samples.append(bt.timed(lambda: bt.run(argv, ws, env)))
    return samples


def query_seconds(names: list[str], reps: int = 20) -> float:
    engine = DockerEngine()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        engine.image_digests(names, lambda _msg: None)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_lock(ws: Path, reps: int) -> dict[str, list[float]]:
    """Seconds per repetition for each row; leaves no slcc.lock behind."""
    tool = bt.slcc_tool()
    lock_file = ws / "slcc.lock"
    lock_file.unlink(missing_ok=True)
    tool.build(ws)  # untimed: whatever a no-op needs exists, also after a hash format change
    lock = [*bt.slcc_argv(), "lock", bt.FLAVOR]
    try:
        local = _times([*tool.argv, "--scope", "local"], ws, tool.env, reps)
        locked = _times(lock, ws, tool.env, reps, before=lock_file)
        rel = _times([*tool.argv, "--scope", "rel"], ws, tool.env, reps)
    finally:
        lock_file.unlink(missing_ok=True)
    return {"noop_local_s": local, "lock_s": locked, "noop_rel_s": rel,
            "query_s": [query_seconds(["debian:bookworm-slim"])]}
