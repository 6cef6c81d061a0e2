"""An imported exaslct flavor on the real engine: bake accepts it, and it builds with the
files exaslct would send (the client's symlinked directory as content, generated package
files, the language definition)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from tests.conftest import ImageCleanup
from tests.exaslct_repo import FLAVOR, LINKED, make_exaslct_repo
from tests.helpers import run_slcc


def cat(tag: str, path: str) -> str:
    proc = subprocess.run(["docker", "run", "--rm", tag, "cat", path], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_bake_print_accepts_every_imported_flavor(tmp_path: Path, engine: object) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    dest = tmp_path / "dest"
    assert run_slcc(tmp_path, "import-exaslct", str(source), "--into", str(dest)).returncode == 0
    out = run_slcc(dest, "emit-bake", "-o", "bake/all.hcl")
    assert out.returncode == 0, out.stderr
    proc = subprocess.run(["docker", "buildx", "bake", "-f", "bake/all.hcl", "--print"], cwd=dest,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    targets = json.loads(proc.stdout)["target"]
    assert set(targets) == {f"{f}_{s}" for f in (FLAVOR, LINKED) for s in ("base", "app", "flavor_customization",
                                                                            "release")}
    app = targets[f"{FLAVOR}_app"]
    assert app["contexts"]["base"] == f"target:{FLAVOR}_base"
    # Both flavors map the same client: one copy, named by its digest, serves them.
    assert app["contexts"]["client"].startswith(".slcc/contexts/_mappings/")
    assert targets[f"{LINKED}_app"]["contexts"]["client"] == app["contexts"]["client"]


def test_imported_flavor_builds_with_symlinked_client_files(
    tmp_path: Path, base_image: str, image_cleanup: ImageCleanup
) -> None:
    source = make_exaslct_repo(tmp_path / "slr")
    dest = tmp_path / "dest"
    assert run_slcc(tmp_path, "import-exaslct", str(source), FLAVOR, "--into", str(dest)).returncode == 0
    repository = f"slcct{uuid.uuid4().hex[:10]}"
    hashes = json.loads(run_slcc(dest, "hash", FLAVOR, "--json", "--repository", repository).stdout)
    image_cleanup.add(*(h["tag"] for h in hashes))
    tags = {h["step"]: h["tag"] for h in hashes}
    out = run_slcc(dest, "build", FLAVOR, "--repository", repository, "--cache", "none",
                   "--goal", "release", "--goal", "app")
    assert out.returncode == 0, out.stderr[-3000:]

    # client/lib is a symlink to ../shared/lib: exaslct sends the files, and so does slcc.
    assert cat(tags["app"], "/client/lib/util.txt") == "util v1\n"
    assert cat(tags["app"], "/util.txt") == "util v1\n"
    assert cat(tags["release"], "/client/main.txt") == "client main\n"
    assert "numpy" in cat(tags["release"], "/build_info/packages/flavor_customization_packages.yml")
    assert json.loads(cat(tags["release"], "/build_info/language_definitions.json"))["schema_version"] == 2
    assert "coreutils" in cat(tags["base"], "/build_info/packages/base_packages.yml")
    assert cat(tags["base"], "/etc/dpkg/01_nodoc").startswith("path-exclude")

    # An edit behind the link rebuilds exactly the client's steps.
    (dest / "shared/lib/util.txt").write_text("util v2\n")
    again = json.loads(run_slcc(dest, "build", FLAVOR, "--repository", repository, "--cache", "none",
                                "--goal", "release", "--json").stdout)
    image_cleanup.add(*(s["tag"] for s in again["steps"]))
    built = {s["step"] for s in again["steps"] if s["status"] == "built"}
    assert built == {"app", "release"}
    release_tag = next(s["tag"] for s in again["steps"] if s["step"] == "release")
    assert cat(release_tag, "/client/lib/util.txt") == "util v2\n"
