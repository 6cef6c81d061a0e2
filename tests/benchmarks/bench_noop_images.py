"""No-op cost against the number of old images in the flavor's repository (issue 9).

A two-step flavor is built once; then its repository gets N extra images (distinct image
ids, one LABEL each, made by one bake) and the no-op `slcc build` is timed. slcc asks the
daemon only about the tags its plan needs, so the figure should not depend on N. For
comparison, the old way (listing the whole repository) is timed in-process as well.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import bench_tools as bt

from slcc.engine import docker
from tests.helpers import BASE_IMAGE, make_repo

BATCH = 50  # one bake of 500 targets lost its job in buildx 0.13 ("no such job"); batches do not


def _add_images(work: Path, repository: str, start: int, count: int) -> list[str]:
    """``count`` extra images tagged ``<repository>/demo:old-<i>``, built by bakes of BATCH targets."""
    tags = []
    for first in range(start, start + count, BATCH):
        numbers = range(first, min(first + BATCH, start + count))
        targets = "\n".join(
            f'target "t{i}" {{\n  dockerfile-inline = "FROM {BASE_IMAGE}\\nLABEL slcc.bench.n={i}\\n"\n'
            f'  context = "."\n  tags = ["{repository}/demo:old-{i}"]\n  output = ["type=docker"]\n}}'
            for i in numbers)
        group = ", ".join(f'"t{i}"' for i in numbers)
        (work / "images.hcl").write_text(f'group "default" {{\n  targets = [{group}]\n}}\n{targets}\n',
                                         encoding="utf-8")
        bt.run(["docker", "buildx", "bake", "-f", "images.hcl", "--progress=quiet"], work, timeout=3600)
        tags += [f"{repository}/demo:old-{i}" for i in numbers]
    return tags


def _noop(repo: Path, repository: str, reps: int) -> float:
    argv = [*bt.slcc_argv(), "build", "demo", "--repository", repository, "--json", "--progress", "quiet"]
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        proc = bt.run(argv, repo, bt.bench_env(SLCC_CA_BUNDLE="none"))
        samples.append(time.perf_counter() - start)
        if json.loads(proc.stdout)["baked"]:
            raise bt.ToolError("the no-op started a bake")
    return bt.median(samples)


def _list_repository(repository: str) -> float:
    start = time.perf_counter()
    docker.local_tags([f"{repository}/demo"])
    return time.perf_counter() - start


def run(work: Path, reps: int, counts: Sequence[int] = (7, 500)) -> dict[str, float]:
    """Median no-op seconds per extra-image count, and what listing the repository costs."""
    shutil.rmtree(work, ignore_errors=True)
    repo = make_repo(work / "repo")
    repository = f"slccbench{uuid.uuid4().hex[:8]}"
    bt.run([*bt.slcc_argv(), "build", "demo", "--repository", repository, "--progress", "quiet"], repo,
           bt.bench_env(SLCC_CA_BUNDLE="none"))
    figures: dict[str, float] = {}
    made: list[str] = []
    try:
        for count in counts:
            made += _add_images(work, repository, len(made), count - len(made))
            figures[f"noop_{count}_s"] = _noop(repo, repository, reps)
            figures[f"list_{count}_s"] = _list_repository(repository)
    finally:
        listed = subprocess.run(["docker", "image", "ls", "-q", "--filter", f"reference={repository}/demo"],
                                capture_output=True, text=True, check=False).stdout.split()
        if listed:
            subprocess.run(["docker", "image", "rm", "-f", *sorted(set(listed))], capture_output=True, check=False)
    return figures
