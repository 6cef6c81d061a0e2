"""Small on-disk repositories for tests: a dict of relative path -> file text."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from slcc.model import Flavor

BASE_IMAGE = "slcc-test/busybox:1"

DEMO_FILES: dict[str, str] = {
    "flavors/demo/flavor.toml": """\
[flavor]
description = "two steps and a mapping"
goals = ["app"]

[args]
BASE = "slcc-test/busybox:1"

[mappings]
src = "../../src"

[steps.base]

[steps.app]
depends = ["base"]
mappings = ["src"]
""",
    "flavors/demo/base/Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /base.txt\n",
    "flavors/demo/base/hello.txt": "hello\n",
    "flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=src . /src\nRUN cat /src/main.txt >> /base.txt\n",
    "src/main.txt": "main v1\n",
}


def write_files(root: Path, files: Mapping[str, str | None]) -> Path:
    """Create (or, for None, delete) files under ``root``; returns ``root``."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def make_repo(root: Path, overrides: Mapping[str, str | None] | None = None) -> Path:
    """The demo repository with ``overrides`` applied."""
    return write_files(root, {**DEMO_FILES, **(overrides or {})})


def two_flavors_sharing_a_file_mapping(root: Path) -> Path:
    """The demo repository plus a flavor "other": demo's app maps ext/01_nodoc as "nodoc", other's
    the same file as "doc" (one content, two names), and each copies it to /n."""
    toml = DEMO_FILES["flavors/demo/flavor.toml"].replace('src = "../../src"', 'src = "../../src"\nnodoc = "../../ext/01_nodoc"')
    toml = toml.replace('mappings = ["src"]', 'mappings = ["src", "nodoc"]')
    app = DEMO_FILES["flavors/demo/app/Dockerfile"] + "COPY --from=nodoc 01_nodoc /n\n"
    files = {"flavors/demo/flavor.toml": toml, "flavors/demo/app/Dockerfile": app, "ext/01_nodoc": "nodoc v1\n"}
    for rel, text in [*DEMO_FILES.items(), ("flavors/demo/flavor.toml", toml), ("flavors/demo/app/Dockerfile", app)]:
        if rel.startswith("flavors/demo/"):
            files[rel.replace("flavors/demo/", "flavors/other/")] = text.replace("nodoc =", "doc =").replace(
                '"nodoc"]', '"doc"]').replace("--from=nodoc", "--from=doc")
    return make_repo(root, files)


def git(repo: Path, *args: str) -> str:
    """``git -C repo ARGS`` with a throwaway identity; its stdout, stripped."""
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def git_source_repo(root: Path) -> Path:
    """A git repository at ``root`` with main.txt "main v1" committed on main and tagged v1."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "main.txt").write_text("main v1\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    git(root, "tag", "v1")
    return root


def git_mapping_toml(source: str) -> str:
    """The demo flavor with its ``src`` mapping taken from git ``source`` (tag v1, branch main)."""
    return DEMO_FILES["flavors/demo/flavor.toml"].replace(
        'src = "../../src"', f'src = {{ git = "{source}", tag = "v1", branch = "main" }}')


def run_slcc(repo: Path, *args: str, env: Mapping[str, str | None] | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``slcc`` command line in ``repo`` (no CA bundle unless ``env`` sets one).

    A None value in ``env`` removes that variable.
    """
    merged = {**os.environ, "SLCC_CA_BUNDLE": "none", **(env or {})}
    full_env = {k: v for k, v in merged.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "slcc", *args],
        cwd=repo, capture_output=True, text=True, env=full_env, timeout=timeout, check=False,
    )


def fake_digests(names: Sequence[str]) -> dict[str, str]:
    """Unit tests of the pure core: a distinct, stable sha256 per image name."""
    return {name: "sha256:" + hashlib.sha256(name.encode()).hexdigest() for name in names}


def flavor_images(flavor: Flavor) -> list[str]:
    return sorted({image for step in flavor.steps.values() for image in step.images})
