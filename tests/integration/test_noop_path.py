"""The no-op path on the real engine: what a build with nothing stale loads and asks the daemon.

A no-op is answered from the stat cache and one inspect per tag over the daemon's socket; it
must not load the bake, view, registry or HTTP libraries (their import is most of a no-op's
cost), and a hand-retagged image is still caught by its hash label.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slcc.engine import docker
from slcc.hashing.statcache import RACY_NS
from tests.conftest import ImageCleanup
from tests.helpers import run_slcc
from tests.integration.conftest import RepositoryFactory

# Modules a no-op must not import: each is only needed once something is stale (or for a registry).
NOT_ON_NOOP = ("python_on_whales", "rich", "http.client", "ssl", "concurrent.futures", "tempfile", "shutil",
               "slcc.engine.bake_runner", "slcc.engine.registry", "slcc.emitting.emit",
               "slcc.output.build_view", "slcc.progress.tracker", "slcc.progress.attribution",
               "slcc.progress.bake_log", "slcc.progress.records", "slcc.commands.push", "slcc.commands.lock",
               "slcc.planning.explain")


@pytest.fixture
def repository(repo: Path, new_repository: RepositoryFactory) -> str:
    return new_repository(clean_up_tags_of=repo)


def _tags(repo: Path, repository: str) -> dict[str, tuple[str, str]]:
    rows = json.loads(run_slcc(repo, "hash", "demo", "--json", "--repository", repository).stdout)
    return {row["step"]: (row["tag"], row["hash"]) for row in rows}


def test_a_no_op_build_loads_only_what_it_needs(repo: Path, repository: str) -> None:
    # Files whose mtime or ctime is younger than the racy window are never cached, so a no-op on
    # them saves the stat cache again (and loads tempfile): let the tree age past it first.
    time.sleep(RACY_NS / 1e9 + 0.1)
    for _ in range(2):  # the build, then a no-op that settles the stat cache
        first = run_slcc(repo, "build", "demo", "--repository", repository, "--progress", "quiet")
        assert first.returncode == 0, first.stderr
    script = ("import sys\nfrom slcc.cli import main\n"
              "try:\n"
              f"    main(['build', 'demo', '--repository', {repository!r}, '--json', '--progress', 'quiet'])\n"
              "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
              f"print('LOADED', sorted(m for m in {NOT_ON_NOOP!r} if m in sys.modules), file=sys.stderr)\n")
    env = {**os.environ, "SLCC_CA_BUNDLE": "none"}
    run = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, env=env,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["baked"] is False
    assert "LOADED []" in run.stderr


def test_local_images_inspects_each_tag_and_reads_its_hash_label(repo: Path, repository: str) -> None:
    assert run_slcc(repo, "build", "demo", "--repository", repository, "--progress", "quiet").returncode == 0
    tags = _tags(repo, repository)
    missing = f"{repository}/demo:app-{'0' * 32}"
    found = docker.local_images([tags["app"][0], tags["base"][0], missing])
    assert found == {tags["app"][0]: tags["app"][1], tags["base"][0]: tags["base"][1]}


def test_a_retagged_image_is_rebuilt_not_trusted(repo: Path, repository: str, image_cleanup: ImageCleanup) -> None:
    assert run_slcc(repo, "build", "demo", "--repository", repository, "--progress", "quiet").returncode == 0
    tags = _tags(repo, repository)
    subprocess.run(["docker", "tag", tags["base"][0], tags["app"][0]], check=True, capture_output=True)
    again = run_slcc(repo, "build", "demo", "--repository", repository, "--json", "--progress", "quiet")
    assert again.returncode == 0, again.stderr
    assert "not its tag's hash; rebuilding it" in again.stderr
    statuses = {s["step"]: s["status"] for s in json.loads(again.stdout)["steps"]}
    assert statuses == {"base": "fresh-local", "app": "built"}
