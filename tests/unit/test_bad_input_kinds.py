"""Bad input of every kind (issue 9): exit 2, exactly one stderr line, no traceback, tree unchanged.

Each case prepares a repository (files, FIFOs, settings), runs the real command line, and
compares a snapshot of the whole tree (names, kinds, modes, contents) before and after:
nothing may be written on a failure path, not even .slcc/statcache.bin or build.lock.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import DEMO_FILES, make_repo, run_slcc, write_files

TOML = "flavors/demo/flavor.toml"
GOOD = DEMO_FILES[TOML]
Setup = Callable[[Path], object]  # what the setup returns is ignored


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    words: str  # must appear in the one error line
    files: dict[str, str | None] = field(default_factory=dict)
    setup: Setup | None = None
    env: dict[str, str | None] = field(default_factory=dict)


def _bytes(rel: str, data: bytes) -> Setup:
    return lambda repo: (repo / rel).write_bytes(data)


def _fifo(rel: str) -> Setup:
    def make(repo: Path) -> None:
        (repo / rel).unlink(missing_ok=True)
        os.mkfifo(repo / rel)
    return make


def _file(rel: str) -> Setup:
    return lambda repo: (repo / rel).write_text("not a directory\n")


def _flavor(name: str) -> dict[str, str | None]:
    return {f"flavors/{name}/flavor.toml": "[steps.s]\n", f"flavors/{name}/s/Dockerfile": "FROM scratch\n"}


DEEP = "a = " + "[" * 3000 + "]" * 3000 + "\n"
CASES: dict[str, Case] = {
    # tracebacks that must be one line
    "binary-flavor-toml": Case(("hash", "demo"), "flavor.toml: TOML file is not UTF-8", setup=_bytes(TOML, b"\xff\xfe\x00[")),
    "latin1-slcc-toml": Case(("hash", "demo"), "slcc.toml: TOML file is not UTF-8",
                             setup=_bytes("slcc.toml", "# caf\xe9\n".encode("latin-1"))),
    "deep-flavor-toml": Case(("hash", "demo"), "nested more than", files={TOML: DEEP}),
    "deep-slcc-toml": Case(("hash", "demo"), "nested more than", files={"slcc.toml": DEEP}),
    "nul-in-context": Case(("hash", "demo"), "NUL byte",
                           files={TOML: GOOD.replace("[steps.base]\n", '[steps.base]\ncontext = "ba\\u0000se"\n')}),
    "nul-in-state-dir": Case(("hash", "demo"), "NUL byte", files={"slcc.toml": '[state]\ndir = "a\\u0000b"\n'}),
    "state-dir-under-file": Case(("hash", "demo"), "not a directory", setup=_file("afile"),
                                 files={"slcc.toml": '[state]\ndir = "afile/state"\n'}),
    "dot-slcc-is-file": Case(("hash", "demo"), ".slcc: ", setup=_file(".slcc")),
    "bake-dir-is-file": Case(("emit-bake", "demo"), "bake", setup=_file("bake")),
    "output-parent-is-file": Case(("emit-bake", "demo", "-o", "afile/x.hcl"), "-o afile/x.hcl", setup=_file("afile")),
    "toml-is-directory": Case(("hash", "demo"), "slcc.toml: TOML file is a directory",
                              setup=lambda repo: (repo / "slcc.toml").mkdir()),
    # hangs
    "fifo-dockerfile": Case(("hash", "demo"), "Dockerfile is not a regular file", setup=_fifo("flavors/demo/base/Dockerfile")),
    "fifo-dockerignore": Case(("hash", "demo"), "ignore file is not a regular file",
                              setup=_fifo("flavors/demo/base/.dockerignore")),
    "fifo-in-context": Case(("hash", "demo"), "special file", setup=_fifo("flavors/demo/base/pipe")),
    "fifo-flavor-toml": Case(("hash", "demo"), "not a regular file", setup=_fifo(TOML)),
    # name collisions
    "flavor-named-default": Case(("emit-bake",), "collides with the bake group 'default'", files=_flavor("default")),
    "flavors-x.y-and-x_y": Case(("emit-bake",), "bake group 'x_y'", files={**_flavor("x.y"), **_flavor("x_y")}),
    # validated before anything is written
    "unknown-goal": Case(("build", "demo", "--goal", "nope"), "--goal: unknown goal 'nope'"),
    "unknown-from": Case(("build", "demo", "--from", "nope"), "--from: unknown step 'nope'"),
    "explain-unknown-step": Case(("explain", "demo", "nope"), "unknown goal 'nope'"),
    "wrong-target-stage": Case(("hash", "demo"), "no stage 'nope'",
                               files={TOML: GOOD.replace("[steps.base]\n", '[steps.base]\ntarget = "nope"\n')}),
    "watch-unknown-goal": Case(("watch", "demo", "--goal", "nope"), "unknown goal 'nope'"),
    # bad values that used to reach the engine
    "ca-bundle-missing": Case(("build", "demo"), "CA bundle nothere.pem does not exist", env={"SLCC_CA_BUNDLE": "nothere.pem"}),
    "ca-bundle-directory": Case(("build", "demo", "--ca-bundle", "flavors"), "is a directory"),
    # trust: the repository may not name host paths outside itself
    "repo-ca-bundle-outside": Case(("build", "demo"), "outside the repository", env={"SLCC_CA_BUNDLE": None},
                                   files={"slcc.toml": '[build]\nca_bundle = "/etc/hostname"\n'}),
    "repo-state-dir-outside": Case(("hash", "demo"), "outside the repository",
                                   files={"slcc.toml": '[state]\ndir = "/tmp/slcc-elsewhere"\n'}),
    # click's usage errors, in the same one-line form
    "usage-bad-choice": Case(("graph", "demo", "--format", "png"), "graph: Invalid value for '-f' / '--format'"),
    "usage-unknown-option": Case(("build", "--frobnicate"), "No such option '--frobnicate'"),
    "usage-unknown-command": Case(("bulid",), "No such command 'bulid'"),
    "usage-repo-not-dir": Case(("-C", "afile", "hash"), "afile", setup=_file("afile")),
}


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str | None]]:
    """Every path below ``root`` with its mode and content (FIFOs are never opened)."""
    result: dict[str, tuple[int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            content: bytes | str | None = None
            if stat.S_ISREG(st.st_mode):
                content = path.read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            result[str(path.relative_to(root))] = (st.st_mode, content)
    return result


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_kind(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    repo = make_repo(tmp_path / "repo")
    write_files(repo, case.files)
    if case.setup:
        case.setup(repo)
    before = snapshot(tmp_path)
    env: dict[str, str | None] = {"XDG_CONFIG_HOME": str(tmp_path / "config"), **case.env}
    result = run_slcc(repo, *case.args, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("slcc: error: "), lines[0]
    assert case.words in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before


def test_host_paths_from_the_users_side_are_accepted(tmp_path: Path) -> None:
    """The same CA bundle outside the repository is fine from the user's config file."""
    repo = make_repo(tmp_path / "repo")
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not really a certificate\n")
    write_files(tmp_path / "config", {"slcc/config.toml": f'[build]\nca_bundle = "{bundle}"\n'})
    result = run_slcc(repo, "emit-bake", "demo", "-o", "-", env={"XDG_CONFIG_HOME": str(tmp_path / "config"),
                                                               "SLCC_CA_BUNDLE": None})
    assert result.returncode == 0, result.stderr
    assert f"src={bundle}" in result.stdout


def test_repo_option_before_the_command(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    result = run_slcc(tmp_path, "-C", str(repo), "hash", "demo")
    assert result.returncode == 0, result.stderr
    assert "demo/app" in result.stdout
