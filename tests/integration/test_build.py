"""`slcc build` on the real engine: cold, no-op, incremental, registry faults, failing RUN."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ImageCleanup, LocalRegistry
from tests.helpers import run_slcc, write_files

Build = Callable[..., dict[str, Any]]


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0


@pytest.fixture
def build(repo: Path, repository: str, image_cleanup: ImageCleanup) -> Build:
    def run(*args: str, expect: int = 0, env: dict[str, str] | None = None) -> dict[str, Any]:
        proc = run_slcc(repo, "build", "demo", "--json", "--repository", repository, *args, env=env)
        assert proc.returncode == expect, proc.stderr
        report: dict[str, Any] = json.loads(proc.stdout)
        image_cleanup.add(*(s["tag"] for s in report["steps"]))
        report["stderr"] = proc.stderr
        report["status"] = {s["step"]: s["status"] for s in report["steps"]}
        return report

    return run


def test_cold_then_noop_then_incremental(build: Build, repo: Path) -> None:
    cold = build()
    assert cold["status"] == {"base": "built", "app": "built"}
    assert all(image_exists(s["tag"]) for s in cold["steps"])
    run_dir = Path(cold["run_dir"])
    assert (run_dir / "bake.hcl").is_file() and (run_dir / "build.log").is_file()
    assert json.loads((run_dir / "report.json").read_text())["ok"] is True

    noop = build()
    assert noop["baked"] is False
    assert noop["status"] == {"app": "fresh-local"}  # a fresh goal needs nothing below it

    write_files(repo, {"src/main.txt": "main v2\n"})  # the mapping: only app uses it
    mapped = build()
    assert mapped["status"] == {"base": "fresh-local", "app": "built"}
    assert any("mapping src: changed main.txt" in why for s in mapped["steps"] for why in s.get("why", []))

    write_files(repo, {"flavors/demo/base/hello.txt": "hello again\n"})  # base's context
    context = build()
    assert context["status"] == {"base": "built", "app": "built"}


def test_goal_and_force_rebuild(build: Build) -> None:
    assert build("--goal", "base")["status"] == {"base": "built"}
    assert build()["status"] == {"base": "fresh-local", "app": "built"}
    forced = build("--from", "app")
    assert forced["status"] == {"base": "fresh-local", "app": "built"}
    assert forced["steps"][1]["why"] == ["forced rebuild"]


def test_failing_run_names_the_step_and_the_fix_recovers(build: Build, repo: Path) -> None:
    write_files(repo, {"flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=src . /src\nRUN exit 3\n"})
    failed = build(expect=1)
    assert failed["ok"] is False
    assert failed["status"] == {"base": "built", "app": "failed"}
    assert "step demo/app failed at `RUN exit 3`" in failed["stderr"]
    assert Path(failed["log"]).is_file()

    write_files(repo, {"flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=src . /src\nRUN true\n"})
    fixed = build()
    assert fixed["status"] == {"base": "fresh-local", "app": "built"}


def test_daemon_unreachable_is_one_clear_line(repo: Path, engine: object) -> None:
    proc = run_slcc(repo, "build", "demo", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Docker daemon" in lines[0], proc.stderr


def test_registry_push_and_reuse_and_outage(
    repo: Path, registry: LocalRegistry, image_cleanup: ImageCleanup, base_image: str
) -> None:
    repository = f"{registry.host}/slcct{uuid.uuid4().hex[:8]}"

    def build(*args: str) -> dict[str, Any]:
        proc = run_slcc(repo, "build", "demo", "--json", "--repository", repository, *args)
        assert proc.returncode == 0, proc.stderr
        report: dict[str, Any] = json.loads(proc.stdout)
        image_cleanup.add(*(s["tag"] for s in report["steps"]))
        report["stderr"] = proc.stderr
        return report

    pushed = build("--push")
    assert {s["status"] for s in pushed["steps"]} == {"built"}
    name = repository.split("/", 1)[1]
    tags = registry.tags(f"{name}/demo")
    assert {s["tag"].rsplit(":", 1)[1] for s in pushed["steps"]} <= set(tags)
    assert "cache-app" in tags  # registry cache exported next to the images

    # Without the local images, the registry makes the goal fresh: nothing is built.
    subprocess.run(["docker", "image", "rm", *(s["tag"] for s in pushed["steps"])], capture_output=True, check=True)
    from_registry = build()
    assert [s["status"] for s in from_registry["steps"]] == ["fresh-registry"]
    assert from_registry["baked"] is False

    write_files(repo, {"src/main.txt": "changed while the registry is down\n"})
    with registry.down():
        offline = build()
    assert "unreachable" in offline["stderr"] and "building without it" in offline["stderr"]
    assert [s["status"] for s in offline["steps"] if s["step"] == "app"] == ["built"]


def test_mapping_dockerignore_matches_buildkit(build: Build, repo: Path) -> None:
    write_files(repo, {"src/.dockerignore": "secret.txt\nsub/\n", "src/secret.txt": "s1", "src/sub/x": "x"})
    first = build()
    app_tag = first["steps"][1]["tag"]
    listing = subprocess.run(["docker", "run", "--rm", app_tag, "ls", "-a", "/src"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert "main.txt" in listing
    assert "secret.txt" not in listing and "sub" not in listing  # BuildKit applied the .dockerignore

    write_files(repo, {"src/secret.txt": "s2", "src/sub/x": "y"})  # so these cannot change the image
    assert build()["baked"] is False


def test_two_concurrent_builds_leave_consistent_state(repo: Path, repository: str, image_cleanup: ImageCleanup) -> None:
    args = [sys.executable, "-m", "slcc", "build", "demo", "--json", "--repository", repository]
    env = {**os.environ, "SLCC_CA_BUNDLE": "none"}
    procs = [subprocess.Popen(args, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        image_cleanup.add(*(s["tag"] for s in json.loads(out)["steps"]))
    for manifest in (repo / ".slcc/manifests/demo").glob("*.json"):
        assert json.loads(manifest.read_text())["flavor"] == "demo"
    assert not list((repo / ".slcc").rglob("*.tmp"))
    again = run_slcc(repo, "build", "demo", "--json", "--repository", repository)
    assert json.loads(again.stdout)["baked"] is False


def test_ctrl_c_stops_bake_and_the_next_build_is_correct(repo: Path, repository: str,
                                                         image_cleanup: ImageCleanup) -> None:
    write_files(repo, {"flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=src . /src\nRUN sleep 60\n"})
    env = {**os.environ, "SLCC_CA_BUNDLE": "none"}
    proc = subprocess.Popen([sys.executable, "-m", "slcc", "build", "demo", "--repository", repository,
                             "--progress", "plain"], cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the slow RUN is running
        if "RUN sleep 60" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    leftover = subprocess.run(["pgrep", "-f", f"buildx bake -f {repo}"], capture_output=True, text=True, check=False)
    assert leftover.stdout.strip() == ""

    write_files(repo, {"flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=src . /src\nRUN true\n"})
    proc2 = run_slcc(repo, "build", "demo", "--json", "--repository", repository)
    assert proc2.returncode == 0, proc2.stderr
    report = json.loads(proc2.stdout)
    image_cleanup.add(*(s["tag"] for s in report["steps"]))
    assert report["steps"][-1]["status"] == "built"
