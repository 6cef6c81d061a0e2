"""State and disk faults on the real engine (issues 9 and 18): leftovers in old runs, a full
state directory, a read-only output, an image retagged by hand."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slcc.state.store import KEEP_RUNS
from tests.conftest import ImageCleanup
from tests.helpers import run_slcc

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def build(repo: Path, repository: str, cleanup: ImageCleanup, *args: str,
          env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    proc = run_slcc(repo, "build", "demo", "--json", "--repository", repository, *args, env=env)
    with contextlib.suppress(ValueError):
        cleanup.add(*(s["tag"] for s in json.loads(proc.stdout)["steps"]))
    return proc


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> None:
    """Write until the filesystem is full."""
    with contextlib.suppress(OSError), (directory / "filler").open("wb") as f:
        while True:
            f.write(b"\0" * 65536)
            f.flush()


def test_leftover_directory_in_an_old_run_is_pruned(repo: Path, repository: str, image_cleanup: ImageCleanup) -> None:
    runs = repo / ".slcc" / "runs"
    for i in range(KEEP_RUNS + 3):
        (runs / f"20000101-000000-1-{i:02d}").mkdir(parents=True)
    leftover = runs / "20000101-000000-1-00" / "export-tmp" / "deeper"
    leftover.mkdir(parents=True)
    (leftover / "part.tar").write_bytes(b"x")
    (runs / "20000101-000000-1-00" / "read-only").write_text("x")
    (runs / "20000101-000000-1-00" / "read-only").chmod(0o444)
    proc = build(repo, repository, image_cleanup)
    assert proc.returncode == 0, proc.stderr
    assert not (runs / "20000101-000000-1-00").exists()
    assert len(list(runs.iterdir())) == KEEP_RUNS


def test_image_retagged_by_hand_is_rebuilt(repo: Path, repository: str, image_cleanup: ImageCleanup) -> None:
    cold = build(repo, repository, image_cleanup)
    assert cold.returncode == 0, cold.stderr
    tags = {s["step"]: s["tag"] for s in json.loads(cold.stdout)["steps"]}
    subprocess.run(["docker", "tag", tags["base"], tags["app"]], check=True)  # app's tag now holds base's image
    again = build(repo, repository, image_cleanup)
    assert again.returncode == 0, again.stderr
    assert {s["step"]: s["status"] for s in json.loads(again.stdout)["steps"]} == {"base": "fresh-local", "app": "built"}
    assert f"{tags['app']} holds an image labelled org.slcc.hash=" in again.stderr
    noop = build(repo, repository, image_cleanup)
    assert {s["step"]: s["status"] for s in json.loads(noop.stdout)["steps"]} == {"app": "fresh-local"}


@needs_root
def test_full_state_directory_no_traceback_from_any_command(
        tmp_path: Path, repo: Path, repository: str, image_cleanup: ImageCleanup) -> None:
    time.sleep(2.1)  # files younger than the stat cache's racy window are not cached, so nothing to save
    with tmpfs(tmp_path / "state", "size=256k") as state:
        fill(state)
        env: dict[str, str | None] = {"SLCC_STATE_DIR": str(state)}
        for args in (("hash", "demo"), ("graph", "demo"), ("explain", "demo"), ("emit-bake", "demo", "-o", "-")):
            proc = run_slcc(repo, *args, env=env)
            assert proc.returncode == 0, (args, proc.stderr)
            assert "Traceback" not in proc.stderr
            if args[0] == "hash":
                assert "warning: cannot save the stat cache" in proc.stderr
        proc = build(repo, repository, image_cleanup, env=env)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("slcc: error:")]
        assert len(errors) == 1 and "No space left on device" in errors[0], proc.stderr
        assert str(state) in errors[0]


@needs_root
def test_emit_bake_into_full_or_read_only_filesystem_is_one_line(tmp_path: Path, repo: Path) -> None:
    with tmpfs(tmp_path / "full", "size=64k") as full, tmpfs(tmp_path / "ro", "ro,size=64k") as read_only:
        fill(full)
        for target, reason in ((full / "x.hcl", "No space left on device"), (read_only / "x.hcl", "Read-only")):
            proc = run_slcc(repo, "emit-bake", "demo", "-o", str(target))
            assert proc.returncode == 1, proc.stderr
            lines = proc.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"slcc: error: {target}: cannot write"), proc.stderr
            assert reason in lines[0]
        assert sorted(p.name for p in full.iterdir()) == ["filler"]  # no temp file left behind


def test_garbled_local_cache_index_is_discarded_with_a_warning(
        repo: Path, repository: str, image_cleanup: ImageCleanup) -> None:
    cold = build(repo, repository, image_cleanup, "--cache", "local")
    assert cold.returncode == 0, cold.stderr
    index = repo / ".slcc" / "cache" / "demo" / "app" / "index.json"
    assert index.is_file()
    index.write_text('{"manifests": "garbled"')
    (repo / "src" / "main.txt").write_text("main v2\n")
    again = build(repo, repository, image_cleanup, "--cache", "local")
    assert again.returncode == 0, again.stderr
    assert "local build cache discarded" in again.stderr
    assert json.loads(index.read_text())["manifests"]  # written afresh by the build
