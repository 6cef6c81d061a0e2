"""No-op cost against the number of old images in the flavor's repository (issue 9).

A two-step flavor is built once; then its repository gets N extra images (tags over DISTINCT
images, one LABEL each, made by one bake) and the no-op `slcc build` is timed. slcc asks the
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

DISTINCT = 10  # distinct old images; more old images are more tags of these


def _add_images(work: Path, tags: Sequence[str], have: Sequence[str]) -> list[str]:
    """Give every one of ``tags`` an image; return them.

    Until DISTINCT images exist (``have`` are the tags made so far, the first DISTINCT of them
    distinct images), new tags get new images (``FROM busybox`` + a LABEL, one bake); the rest are
    more tags of those. Every tag is its own record in the daemon's image store, which is what
    slcc's per-tag queries and the old repository listing walk; deleting a distinct image costs the
    daemon seconds (containerd's garbage collection), untagging ~0.1 s.
    """
    work.mkdir(parents=True, exist_ok=True)
    build = list(tags[:max(0, DISTINCT - len(have))])
    if build:
        targets = "\n".join(
            f'target "t{i}" {{\n  dockerfile-inline = "FROM {BASE_IMAGE}\\nLABEL slcc.bench.old={tag}\\n"\n'
            f'  context = "."\n  tags = ["{tag}"]\n  output = ["type=docker"]\n}}'
            for i, tag in enumerate(build))
        group = ", ".join(f'"t{i}"' for i in range(len(build)))
        (work / "images.hcl").write_text(f'group "default" {{\n  targets = [{group}]\n}}\n{targets}\n',
                                         encoding="utf-8")
        bt.run(["docker", "buildx", "bake", "-f", "images.hcl", "--progress=quiet"], work, timeout=3600)
    sources = [*have, *build][:DISTINCT]
    for i, tag in enumerate(tags[len(build):]):
        bt.run(["docker", "tag", sources[i % len(sources)], tag], work)
    return list(tags)


def remove_tags(tags: Sequence[str]) -> None:
    """Untag the extra tags first (fast), then the DISTINCT images' own tags (which deletes them)."""
    order = [*tags[DISTINCT:], *tags[:DISTINCT]]
    for first in range(0, len(order), 100):
        subprocess.run(["docker", "image", "rm", "-f", *order[first:first + 100]], capture_output=True, check=False)


def _noop(repo: Path, repository: str, reps: int) -> list[float]:
    argv = [*bt.slcc_argv(), "build", "demo", "--repository", repository, "--json", "--progress", "quiet"]
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        proc = bt.run(argv, repo, bt.bench_env(SLCC_CA_BUNDLE="none"))
        samples.append(time.perf_counter() - start)
        if json.loads(proc.stdout)["baked"]:
            raise bt.ToolError("the no-op started a bake")
    return samples


def _list_repository(repository: str) -> float:
    start = time.perf_counter()
    docker.local_tags([f"{repository}/demo"])
    return time.perf_counter() - start


def run(work: Path, reps: int, counts: Sequence[int] = (7, 500)) -> dict[str, list[float]]:
    """No-op seconds per extra-image count (every sample), and what listing the repository costs."""
    shutil.rmtree(work, ignore_errors=True)
    repo = make_repo(work / "repo")
    repository = f"slccbench{uuid.uuid4().hex[:8]}"
    bt.run([*bt.slcc_argv(), "build", "demo", "--repository", repository, "--progress", "quiet"], repo,
           bt.bench_env(SLCC_CA_BUNDLE="none"))
    figures: dict[str, list[float]] = {}
    made: list[str] = []
    try:
        for count in counts:
            made += _add_images(work, [f"{repository}/demo:old-{i}" for i in range(len(made), count)], made)
            figures[f"noop_{count}_s"] = _noop(repo, repository, reps)
            figures[f"list_{count}_s"] = [_list_repository(repository)]
    finally:
        remove_tags(made)
        listed = subprocess.run(["docker", "image", "ls", "-q", "--filter", f"reference={repository}/demo"],
                                capture_output=True, text=True, check=False).stdout.split()
        if listed:  # the flavor's own two images
            subprocess.run(["docker", "image", "rm", "-f", *sorted(set(listed))], capture_output=True, check=False)
    return figures


def old_tags(count: int, start: int = 0) -> list[str]:
    """Tags like the ones older builds of python3 left in slcc's repository: ``<step>-<hash>``."""
    steps = ("udfclient_deps", "build_deps", "language_deps", "build_run", "wheels", "flavor_base_deps",
             "flavor_customization", "release")
    return [f"{bt.SLCC_REPOSITORY}/{bt.FLAVOR}:{steps[i % len(steps)]}-old{i:05d}{uuid.uuid4().hex[:24]}"
            for i in range(start, start + count)]


def run_python3(ws: Path, work: Path, reps: int, tools: dict[str, bt.Tool], log: bt.Log,
                counts: Sequence[int] = (7, 500)) -> dict[str, dict[str, list[float]] | str]:
    """The python3 no-op of every tool with ``count`` old images in slcc's python3 repository.

    The workspace must hold a built python3 (the noop row's warm-up). Per count, the tools take
    turns (order rotating per repetition) and slcc must start no bake; a count that fails gets
    its error (and stops the row). The old tags are removed afterwards.
    """
    made: list[str] = []
    figures: dict[str, dict[str, list[float]] | str] = {}
    try:
        for tool in tools.values():
            tool.build(ws)  # untimed: every tool's images exist
        for count in counts:
            try:
                made += _add_images(work, old_tags(count - len(made), len(made)), made)
                log(f"  {count} old images in {bt.SLCC_REPOSITORY}/{bt.FLAVOR}")
                figures[str(count)] = _python3_noops(ws, reps, tools, log)
            except (bt.ToolError, subprocess.TimeoutExpired) as exc:
                figures[str(count)] = "n/a: " + str(exc).splitlines()[0][:160]
                log(f"  {count} old images failed: {exc}")
                break
    finally:
        remove_tags(made)
    return figures


def _python3_noops(ws: Path, reps: int, tools: dict[str, bt.Tool], log: bt.Log) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in tools}
    for rep in range(reps):
        for name in bt.rotated(list(tools), rep):
            samples[name].append(tools[name].build(ws))
            log(f"  {name} #{rep + 1}: {samples[name][-1]:.2f} s")
    slcc = tools["slcc"]
    if json.loads(bt.run([*slcc.argv, "--json"], ws, slcc.env).stdout)["baked"]:
        raise bt.ToolError("the python3 no-op started a bake")
    return samples
