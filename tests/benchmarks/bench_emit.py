"""Emit time for big synthetic flavors: load/validate, hash and emit, timed in-process.

The synthetic flavor is real files on disk, read the way ``slcc emit-bake`` reads them: a
tree where step i builds FROM step (i-1)//4 (fan-out 4) and every 8th step also copies from
its predecessor (a second edge, so the graph is not a plain tree). Dockerfiles are two or
three lines, so the figures are slcc's per-step overhead, not file I/O.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from pathlib import Path

from slcc.emitting import emit
from slcc.engine.docker import DockerEngine
from slcc.loading.project import open_project

FAN_OUT = 4
BASE_IMAGE = "slcc-test/busybox:1"


def step_name(i: int) -> str:
    return f"s{i:05d}"


def _deps(i: int) -> list[int]:
    if i == 0:
        return []
    deps = {(i - 1) // FAN_OUT}
    if i % 8 == 0:
        deps.add(i - 1)
    return sorted(deps)


def _dockerfile(i: int, deps: list[int]) -> str:
    if not deps:
        return f"ARG BASE\nFROM ${{BASE}}\nRUN echo {i} > /step\n"
    parent = step_name((i - 1) // FAN_OUT)
    lines = [f"FROM {parent}", f"RUN echo {i} >> /step"]
    lines += [f"COPY --from={step_name(d)} /step /from-{step_name(d)}" for d in deps if step_name(d) != parent]
    return "\n".join(lines) + "\n"


def write_synthetic(root: Path, steps: int) -> str:
    """Write flavors/synth<steps>/ under ``root``; return the flavor name."""
    name = f"synth{steps}"
    directory = root / "flavors" / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    toml = [
        "[flavor]", f'description = "synthetic flavor with {steps} steps"', f'goals = ["{step_name(steps - 1)}"]',
        "", "[args]", f'BASE = "{BASE_IMAGE}"', "",
    ]
    for i in range(steps):
        deps = _deps(i)
        (directory / step_name(i)).mkdir()
        (directory / step_name(i) / "Dockerfile").write_text(_dockerfile(i, deps), encoding="utf-8")
        toml.append(f"[steps.{step_name(i)}]")
        if deps:
            toml.append("depends = [" + ", ".join(f'"{step_name(d)}"' for d in deps) + "]")
    (directory / "flavor.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    return name


def _phases(root: Path, name: str) -> dict[str, float]:
    """One in-process emit-bake (minus the git call for the revision label), per phase."""
    t0 = time.perf_counter()
    project = open_project(root, [name], warn=lambda _msg: None,
                           resolver=lambda names: DockerEngine().image_digests(names, lambda _msg: None))
    t1 = time.perf_counter()
    hashes = project.hash_all()
    t2 = time.perf_counter()
    text = emit.emit_bake(emit.EmitRequest(project.flavors, hashes, project.settings))
    t3 = time.perf_counter()
    assert text.count('\ntarget "') == len(project.flavors[0].steps)
    return {"load_s": t1 - t0, "hash_s": t2 - t1, "emit_s": t3 - t2, "total_s": t3 - t0}


def bench_size(work: Path, steps: int, reps: int) -> tuple[dict[str, float], list[float]]:
    """First run (no stat cache yet) and the median of ``reps`` warm runs per phase; every warm total."""
    root = work / f"emit-{steps}"
    shutil.rmtree(root, ignore_errors=True)
    name = write_synthetic(root, steps)
    first = _phases(root, name)
    warm = [_phases(root, name) for _ in range(reps)]
    result = {f"first_{k}": v for k, v in first.items()}
    for key in warm[0]:
        result[key] = statistics.median(w[key] for w in warm)
    result["steps"] = float(steps)
    return result, [w["total_s"] for w in warm]


def bench_cli(work: Path, steps: int, slcc: list[str], env: dict[str, str], reps: int) -> list[float]:
    """Seconds of each run of the real ``slcc emit-bake`` command (interpreter start included)."""
    root = work / f"emit-{steps}"
    name = f"synth{steps}"
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run([*slcc, "emit-bake", name, "-o", str(root / "out.hcl")], cwd=root, env=env,
                       capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times
