"""The flavor repository's git mirror under the state directory, and one work tree per build.

SOURCE (a URL or a local path) is cloned bare once and fetched when a push names a commit the
mirror lacks. Builds check out ``work/<build id>`` with ``git worktree add --detach``; a
work tree left by a crash is removed and pruned at start, so it never blocks a later build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

from slcc.errors import EngineError, InputError

_GIT_TIMEOUT = 300.0
_FULL_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


class Mirror:
    def __init__(self, source: str, directory: Path) -> None:
        self.source = source
        self.git_dir = directory / "mirror.git"
        self.work_root = directory / "work"
        self._lock = threading.Lock()  # one git process at a time on the mirror

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run_git(["--git-dir", str(self.git_dir), *args], check, str(self.git_dir))


    def ensure(self) -> None:
        """Clone SOURCE bare when the mirror does not exist yet; fetch it otherwise."""
        with self._lock:
            if not (self.git_dir / "HEAD").is_file():
                self.git_dir.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.git_dir.with_name("mirror.git.partial")
                shutil.rmtree(tmp, ignore_errors=True)
                proc = subprocess.run(["git", "clone", "--bare", "--quiet", self.source, str(tmp)],
                                      capture_output=True, text=True, timeout=_GIT_TIMEOUT, check=False, env=_git_env())
                if proc.returncode != 0:
                    shutil.rmtree(tmp, ignore_errors=True)
                    detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
                    raise InputError(f"cannot clone: {detail}", "--repo")
                tmp.rename(self.git_dir)
                self._git("config", "remote.origin.fetch", "+refs/heads/*:refs/heads/*")
            else:
                self._remove_stale_locks()
                self._fetch()
        self.work_root.mkdir(parents=True, exist_ok=True)

    def _remove_stale_locks(self) -> None:
        """git's *.lock files left by a git killed with the service; at start nothing else uses the mirror."""
        for lock in self.git_dir.rglob("*.lock"):
            lock.unlink(missing_ok=True)

    def _fetch(self) -> None:
        self._git("fetch", "--quiet", "--prune", "origin")

    def _has(self, commit: str) -> bool:
        return self._git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode == 0

    def commit(self, rev: str) -> str:
        """The full commit id of ``rev`` (a commit id, branch or tag), fetching SOURCE for names and missing ids."""
        with self._lock:
            if not _FULL_SHA.match(rev) or not self._has(rev):  # a name may have moved: fetch it
                self._fetch()
                if not self._has(rev):
                    self._git("fetch", "--quiet", "origin", rev, check=False)  # an unadvertised commit id
            proc = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if proc.returncode != 0:
            raise InputError(f"{rev!r} is not a commit or branch of {self.source}")
        return proc.stdout.strip()

    def full_ref(self, rev: str) -> str:
        """``main`` -> refs/heads/main, ``HEAD`` -> the branch it names, ``v1`` -> refs/tags/v1; a commit id stays."""
        with self._lock:
            proc = self._git("rev-parse", "--symbolic-full-name", rev, check=False)
        name = proc.stdout.strip()
        return name if proc.returncode == 0 and name.startswith("refs/") else rev

    def tree(self, commit: str) -> str:
        """The tree id of a commit: equal trees hold equal flavors."""
        with self._lock:
            return self._git("rev-parse", f"{commit}^{{tree}}").stdout.strip()

    def checkout(self, path: Path, commit: str) -> None:
        """A detached work tree of ``commit`` at ``path`` (replacing whatever is there)."""
        with self._lock:
            if (path / ".git").exists():
                try:
                    _run_git(["-C", str(path), "checkout", "--quiet", "--force", "--detach", commit], True, str(path))
                    _run_git(["-C", str(path), "clean", "-qffdx"], True, str(path))
                    return
                except EngineError:  # a work tree broken by a crash: start it over
                    pass
            shutil.rmtree(path, ignore_errors=True)
            self._git("worktree", "prune")
            self._git("worktree", "add", "--quiet", "--force", "--detach", str(path), commit)

    def remove(self, path: Path) -> None:
        """Remove a build's work tree and git's record of it."""
        with self._lock:
            shutil.rmtree(path, ignore_errors=True)
            self._git("worktree", "prune", check=False)

    def remove_stale_work_trees(self, keep: set[str]) -> list[str]:
        """Work trees whose build is not running here any more (left by a crash)."""
        removed = []
        if self.work_root.is_dir():
            for child in sorted(self.work_root.iterdir()):
                if child.name not in keep:
                    shutil.rmtree(child, ignore_errors=True)
                    removed.append(child.name)
        with self._lock:
            self._git("worktree", "prune", check=False)
        return removed


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLCC_WEBHOOK", "SLCC_API"))}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never hang asking for a password
    return env

def _run_git(args: list[str], check: bool, where: str) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT, check=False, env=_git_env())
    except FileNotFoundError:
        raise EngineError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"git {args[0]} took longer than {_GIT_TIMEOUT:.0f} s") from None
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise EngineError(f"git {args[2 if args[0] == '--git-dir' else 0]} failed in {where}: {detail}")
    return proc
