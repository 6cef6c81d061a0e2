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

from slcc.state.atomic import write_text_atomic

KEEP_RUNS = 20


class State:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _manifest_path(self, flavor: str, step: str) -> Path:
        return self.directory / "manifests" / flavor / f"{step}.json"

    def last_manifest(self, flavor: str, step: str) -> dict[str, Any] | None:
        """The manifest of the last image built for this step, if readable."""
        try:
            data = json.loads(self._manifest_path(flavor, step).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        path = self._manifest_path(manifest["flavor"], manifest["step"])
        write_text_atomic(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    @contextlib.contextmanager
    def build_lock(self, on_wait: Callable[[str], None]) -> Iterator[None]:
        """One build at a time per state directory.

        Builds share the local cache directories, which BuildKit's local cache exporter cannot
        write concurrently. The OS drops the lock with the process, so a crash never leaves it.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "build.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                on_wait(f"waiting for another slcc build using {self.directory}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_run(self) -> Path:
        """A fresh directory for one build's bake file, log and report; old runs are pruned."""
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
        old = sorted(p for p in runs.iterdir() if p.is_dir())[:-KEEP_RUNS]
        for run in old:
            for child in run.iterdir():
                child.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # another slcc may still be writing there
                run.rmdir()
