"""Emitted bake files on the real buildx: parsed exactly, and buildable without slcc."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from tests.conftest import ImageCleanup
from tests.helpers import make_repo, run_slcc
from tests.unit.test_emit import HOSTILE


def bake_print(repo: Path, file: str, *targets: str) -> dict[str, dict[str, object]]:
    proc = subprocess.run(["docker", "buildx", "bake", "-f", file, "--print", *targets],
                          cwd=repo, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["target"]  # type: ignore[no-any-return]


def test_hostile_strings_survive_buildx_parsing(tmp_path: Path, engine: object) -> None:
    repo = make_repo(tmp_path / "repo", HOSTILE)
    out = run_slcc(repo, "emit-bake", "demo")
    assert out.returncode == 0, out.stderr
    targets = bake_print(repo, "bake/demo.hcl", "demo_base", "demo_app")
    assert targets["demo_base"]["args"] == {
        "BASE": "slcc-test/busybox:1",
        "HOSTILE": '${HOME} %{if x} "q" back\\slash\nnew line ☃',
        "http_proxy": "http://proxy:3128/${x}",
    }
    assert targets["demo_app"]["contexts"] == {"base": "target:demo_base", "src": 'my "src" ${dir} %{x} ü'}


def test_raw_bake_builds_exactly_the_tags_slcc_expects(
    tmp_path: Path, base_image: str, image_cleanup: ImageCleanup
) -> None:
    repo = make_repo(tmp_path / "repo", HOSTILE)
    repository = f"slcct{uuid.uuid4().hex[:10]}"
    assert run_slcc(repo, "emit-bake", "demo", "--repository", repository).returncode == 0
    hashes = json.loads(run_slcc(repo, "hash", "demo", "--json", "--repository", repository).stdout)
    image_cleanup.add(*(h["tag"] for h in hashes))

    # No slcc in this run: plain buildx on the emitted file, from the repository root.
    proc = subprocess.run(["docker", "buildx", "bake", "-f", "bake/demo.hcl", "demo_base", "demo_app"],
                          cwd=repo, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for h in hashes:
        inspect = subprocess.run(["docker", "image", "inspect", h["tag"], "--format", "{{json .Config.Labels}}"],
                                 capture_output=True, text=True, check=True)
        assert json.loads(inspect.stdout)["org.slcc.hash"] == h["hash"]
    hostile = subprocess.run(["docker", "run", "--rm", hashes[0]["tag"], "cat", "/hostile.txt"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert hostile.stdout == '${HOME} %{if x} "q" back\\slash\nnew line ☃\n'

    # slcc agrees: everything the raw bake produced is fresh.
    report = json.loads(run_slcc(repo, "build", "demo", "--json", "--repository", repository).stdout)
    assert report["baked"] is False
