"""The state directory (.slcc/): manifests of built steps and one folder per build run.

Every file is written atomically, and none of it decides freshness (only image tags do),
so a crash or a deleted .slcc/ can cost an explanation or a log, never a wrong build.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from slcc.errors import WriteError
from slcc.state.atomic import write_text_atomic

KEEP_RUNS = 20


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _tree(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("digest"), str) and _str_map(value.get("files"))
            and all(v.count(":") >= 2 for v in value["files"].values()))


def valid_manifest(data: Any) -> bool:
    """The shape ``StepHash.manifest`` writes; anything else is discarded, never trusted."""
    return (
        isinstance(data, dict)
        and all(isinstance(data.get(k), str) for k in ("version", "flavor", "step", "hash", "dockerfile"))
        and _tree(data.get("context"))
        and isinstance(data.get("mappings"), dict) and all(_tree(t) for t in data["mappings"].values())
        and _str_map(data.get("args")) and _str_map(data.get("depends"))
        and isinstance(data.get("platforms"), list) and all(isinstance(p, str) for p in data["platforms"])
        and (data.get("target") is None or isinstance(data.get("target"), str))
    )


class State:
    def __init__(self, directory: Path, warn: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self._warn = warn or (lambda _message: None)

    def _manifest_path(self, flavor: str, step: str) -> Path:
        return self.directory / "manifests" / flavor / f"{step}.json"

    def last_manifest(self, flavor: str, step: str) -> dict[str, Any] | None:
        """The manifest of the last image built for this step, if readable."""
        path = self._manifest_path(flavor, step)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            data = None
        if valid_manifest(data):
            return data  # type: ignore[no-any-return]
        self._warn(f"{path}: not a manifest slcc wrote; ignored (it only explains rebuilds)")
        return None

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        path = self._manifest_path(manifest["flavor"], manifest["step"])
        try:
            write_text_atomic(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        except WriteError as exc:  # manifests only explain rebuilds: a full disk must not fail a build
            self._warn(f"{exc}; `slcc explain` will not know this build")

    @contextlib.contextmanager
    def build_lock(self, on_wait: Callable[[str], None]) -> Iterator[int]:
        """One build at a time per state directory; yields the lock's file descriptor.

        Builds share the local cache directories, which BuildKit's local cache exporter cannot
        write concurrently. The OS drops the lock with the last process holding the descriptor,
        so a crash never leaves it; a bake's guard holds it too (see slcc.engine.guard), so the
        lock outlives a killed slcc exactly as long as its bake does.
        """
        lock = self.directory / "build.lock"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = lock.open("a")
        except OSError as exc:
            raise WriteError(lock, exc.strerror or exc.__class__.__name__) from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                on_wait(f"waiting for another slcc build using {self.directory}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield handle.fileno()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_run(self) -> Path:
        """A fresh directory for one build's bake file, log and report; old runs are pruned."""
        try:
            return self._new_run()
        except OSError as exc:
            raise WriteError(exc.filename or self.directory / "runs", exc.strerror or exc.__class__.__name__) from None

    def _new_run(self) -> Path:
        runs = self.directory / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        run = runs / f"{stamp}-{os.getpid()}"
        suffix = 0
        while True:
            try:
                candidate = run if not suffix else run.with_name(f"{run.name}-{suffix}")
                candidate.mkdir()
                break
            except FileExistsError:
                suffix += 1
        self._prune(runs)
        return candidate

    @staticmethod
    def _prune(runs: Path) -> None:
        import shutil  # noqa: PLC0415 - shutil pulls in bz2 and lzma; only a build that bakes prunes

        old = sorted(p for p in runs.iterdir() if p.is_dir() and not p.is_symlink())[:-KEEP_RUNS]
        for run in old:
            # Anything may be left in an old run (a directory after a kill mid-export, a
            # read-only file); none of it may stop a new build. Another slcc may still be
            # writing there, so failures are ignored: the next prune tries again.
            shutil.rmtree(run, ignore_errors=True)
