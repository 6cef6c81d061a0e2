"""`slcc export` and `slcc test` on the real engine, with the demo flavor (base, app on busybox)."""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ImageCleanup
from tests.helpers import DEMO_FILES, make_repo, run_slcc, write_files

TEST_STEP_TOML = DEMO_FILES["flavors/demo/flavor.toml"] + '\n[steps.test]\ndepends = ["app"]\n'
PASSING_TEST = "FROM app\nRUN grep -q 'main v1' /base.txt && echo 'check ok'\n"
FAILING_TEST = "FROM app\nRUN echo 'base.txt says:'; cat /base.txt; grep -q 'main v9' /base.txt\n"

Slcc = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def repo(tmp_path: Path, base_image: str) -> Path:
    return make_repo(tmp_path / "repo", {"flavors/demo/flavor.toml": TEST_STEP_TOML,
                                         "flavors/demo/test/Dockerfile": PASSING_TEST})


@pytest.fixture
def slcc(repo: Path, image_cleanup: ImageCleanup) -> Slcc:
    """Run slcc in the repo with a repository no other test uses; every tag it may build gets cleaned up."""
    repository = f"slcct{uuid.uuid4().hex[:10]}"

    def run(*args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        hashes = run_slcc(repo, "hash", "demo", "--json", "--repository", repository)
        image_cleanup.add(*(row["tag"] for row in json.loads(hashes.stdout or "[]")))
        proc = run_slcc(repo, *args, "--repository", repository)
        if expect is not None:
            assert proc.returncode == expect, proc.stdout + proc.stderr
        return proc

    return run


def export(slcc: Slcc, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(slcc("export", "demo", "--json", *args).stdout)
    return result


def runs(repo: Path) -> list[Path]:
    directory = repo / ".slcc" / "runs"
    return sorted(directory.iterdir()) if directory.is_dir() else []


def test_export_archive_checksum_and_rootfs(slcc: Slcc, repo: Path, tmp_path: Path) -> None:
    first = export(slcc)
    archive, checksum = Path(first["archive"]), Path(first["checksum"])
    assert first["cached"] is False and first["step"] == "app"
    assert archive.parent == repo / ".slcc" / "export"
    assert archive.name == f"demo-app-{first['hash'][:32]}.tar.gz"
    assert checksum.name == archive.name + ".sha512sum"
    assert archive.stat().st_size == first["size"]
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name, checksum.name]  # no temp files
    leftovers = [p for run in runs(repo) for p in run.iterdir() if not p.is_file()]
    assert leftovers == []  # State prunes old runs file by file; the raw image tar is gone too
    assert not [p for run in runs(repo) for p in run.iterdir() if p.name == "export.tar"]

    check = subprocess.run(["sha512sum", "-c", checksum.name], cwd=archive.parent, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0 and f"{archive.name}: OK" in check.stdout, check.stdout + check.stderr

    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["bin/busybox"].isreg()
        assert tar.extractfile("base.txt").read() == b"hello\nmain v1\n"  # type: ignore[union-attr]
        for mount in ("dev", "proc", "sys"):
            assert not [n for n in members if n.startswith(mount + "/")], f"{mount}/ is not empty"
        # exaslct's layout, which the database expects: /conf links and the manifest.
        assert members["etc/resolv.conf"].issym() and members["etc/resolv.conf"].linkname == "/conf/resolv.conf"
        assert members["etc/hosts"].issym() and members["etc/hosts"].linkname == "/conf/hosts"
        assert tar.extractfile("exasol-manifest.json").read() == b"{}\n"  # type: ignore[union-attr]
        tar.extractall(tmp_path / "rootfs", filter="tar")
    assert (tmp_path / "rootfs" / "bin" / "busybox").is_file()


def test_second_export_is_cached_and_a_change_gives_a_new_archive(slcc: Slcc, repo: Path) -> None:
    first = export(slcc)
    before = runs(repo)
    again = export(slcc)
    assert again["cached"] is True
    assert again["archive"] == first["archive"] and again["sha512"] == first["sha512"]
    assert again["seconds"] < 1.0
    assert runs(repo) == before  # no build run, no bake

    write_files(repo, {"src/main.txt": "main v2\n"})
    changed = export(slcc)
    assert changed["cached"] is False
    assert changed["archive"] != first["archive"]
    assert Path(first["archive"]).is_file()  # archives are per hash: the old one is still valid
    with tarfile.open(changed["archive"], "r:gz") as tar:
        assert tar.extractfile("base.txt").read() == b"hello\nmain v2\n"  # type: ignore[union-attr]


def test_a_damaged_archive_is_exported_again(slcc: Slcc) -> None:
    first = export(slcc)
    Path(first["archive"]).write_bytes(b"truncated")
    again = export(slcc)
    assert again["cached"] is False and again["sha512"] == first["sha512"]  # same image, same bytes


def test_export_goal_and_output_dir(slcc: Slcc, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = export(slcc, "--goal", "base", "-o", str(out))
    assert Path(result["archive"]).parent == out
    assert Path(result["archive"]).name.startswith("demo-base-")
    with tarfile.open(result["archive"], "r:gz") as tar:
        assert tar.extractfile("base.txt").read() == b"hello\n"  # type: ignore[union-attr]


def test_export_unknown_goal_is_bad_input(slcc: Slcc) -> None:
    proc = slcc("export", "demo", "--goal", "nope", expect=2)
    assert proc.stderr.strip().splitlines() == [
        "slcc: error: --goal: flavor demo has no step 'nope' (steps: base, app, test)"]


def test_test_step_passes_then_is_cached(slcc: Slcc) -> None:
    passed = slcc("test", "demo")
    assert passed.stdout.startswith("PASS demo/test (") and " in " in passed.stdout, passed.stdout
    cached = slcc("test", "demo")
    assert "PASS demo/test" in cached.stdout
    assert "(cached: tests already passed for hash " in cached.stdout


def test_failing_test_step_says_fail_with_the_instruction_and_its_output(slcc: Slcc, repo: Path) -> None:
    slcc("build", "demo")  # app is fresh: the test step is the only target of its bake
    write_files(repo, {"flavors/demo/test/Dockerfile": FAILING_TEST})
    failed = slcc("test", "demo", expect=1)
    line = failed.stdout.strip()
    assert line.startswith("FAIL demo/test at `RUN echo 'base.txt says:'; cat /base.txt; grep -q 'main v9' /base.txt`: ")
    assert "exit code: 1" in line and "; log: " in line
    assert Path(line.rsplit("; log: ", 1)[1]).is_file()
    assert "  | main v1" in failed.stderr  # what the failing check printed


def test_a_failing_dependency_fails_the_test_without_running_it(slcc: Slcc, repo: Path) -> None:
    write_files(repo, {"flavors/demo/app/Dockerfile": "FROM base\nRUN exit 7\n"})
    failed = slcc("test", "demo", expect=1)
    assert failed.stdout.startswith("FAIL demo/test (not run): step demo/app failed at `RUN exit 7`"), failed.stdout


def test_flavor_without_test_step_is_bad_input(slcc: Slcc, repo: Path) -> None:
    write_files(repo, {"flavors/demo/flavor.toml": DEMO_FILES["flavors/demo/flavor.toml"]})
    proc = slcc("test", "demo", expect=2)
    assert proc.stderr.strip().splitlines() == [
        "slcc: error: flavor demo has no test step 'test' (steps: base, app)"]
