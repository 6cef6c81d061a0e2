"""The worker: claims queued builds one at a time and runs each in a runner process.

A build's work tree (``work/<id>``), log (``logs/<id>.log``), spec and result (``runs/<id>/``)
and artifacts (``artifacts/<id>/``) live under the serve state directory. Cancellation is a
flag in the database (so any instance can ask), turned into SIGINT for the runner's session.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slcc.errors import SlccError
from slcc.serve.mirror import Mirror
from slcc.serve.queue import BuildQueue
from slcc.serve.records import Build
from slcc.serve.runner import RunSpec
from slcc.state.atomic import write_text_atomic

log = logging.getLogger("slcc.serve")
POLL_SECONDS = 0.5
MAX_ATTEMPTS = 2  # a build interrupted by a crash runs once more, then is failed-interrupted


@dataclass(frozen=True)
class WorkerSettings:
    state_dir: Path
    name: str  # stable per instance: a restart finds the builds it was running
    overrides: Mapping[str, str | None]
    push: bool
    export: bool
    keep: int = 200  # logs, run files and artifacts of this many newest builds stay on disk


def prune_build_files(state_dir: Path, keep: int, active: set[int]) -> list[int]:
    """Remove the files of all but the ``keep`` newest builds here (never of an active one).

    The database keeps every build's record and report; only its log and artifacts go.
    """
    ids: set[int] = set()
    for sub in ("logs", "runs", "artifacts"):
        folder = state_dir / sub
        if folder.is_dir():
            ids.update(int(p.name.split(".")[0]) for p in folder.iterdir() if p.name.split(".")[0].isdigit())
    doomed = sorted(ids - active)[:-keep] if keep else sorted(ids - active)
    for build_id in doomed:
        (state_dir / "logs" / f"{build_id}.log").unlink(missing_ok=True)
        shutil.rmtree(state_dir / "runs" / str(build_id), ignore_errors=True)
        shutil.rmtree(state_dir / "artifacts" / str(build_id), ignore_errors=True)
    return doomed


class Worker:
    def __init__(self, queue: BuildQueue, mirror: Mirror, settings: WorkerSettings) -> None:
        self.queue, self.mirror, self.settings = queue, mirror, settings
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        for sub in ("logs", "runs", "artifacts"):
            (settings.state_dir / sub).mkdir(parents=True, exist_ok=True)

    def log_path(self, build_id: int) -> Path:
        return self.settings.state_dir / "logs" / f"{build_id}.log"

    @property
    def artifact_root(self) -> Path:
        return self.settings.state_dir / "artifacts"

    def recover(self) -> None:
        """After a crash: stop orphaned runners, re-queue or fail their builds, drop stale work trees."""
        for b in self.queue.recover(self.settings.name, MAX_ATTEMPTS):
            if b.pid:
                _stop_session(b.pid)
            log.warning("build %d was running when the service stopped: %s", b.id,
                        "re-queued" if b.attempts < MAX_ATTEMPTS else "failed-interrupted")
        for name in self.mirror.remove_stale_work_trees(keep=set()):
            log.info("removed stale work tree %s", name)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="slcc-serve-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread:
            self._thread.join(timeout=60)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                build = self.queue.claim(self.settings.name)
            except Exception:
                log.exception("cannot claim a build")
                build = None
            if build is None:
                self.wake.wait(POLL_SECONDS)
                self.wake.clear()
                continue
            try:
                self._run(build)
            except Exception as exc:
                log.exception("build %d failed in the service", build.id)
                self.queue.finish(build.id, "failed", f"service error: {exc}", None, ())

    def _run(self, build: Build) -> None:
        run_dir = self.settings.state_dir / "runs" / str(build.id)
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        artifact_dir = self.artifact_root / str(build.id)
        shutil.rmtree(artifact_dir, ignore_errors=True)
        artifact_dir.mkdir(parents=True)
        work_tree = self.mirror.work_root / str(build.id)
        log.info("build %d: %s at %s (%s)", build.id, build.flavor, build.commit[:12], build.ref)
        with self.log_path(build.id).open("w", encoding="utf-8") as log_file:
            try:
                self.mirror.commit(build.commit)  # fetch: another instance may have queued it
                self.mirror.checkout(work_tree, build.commit)
            except SlccError as exc:
                log_file.write(f"[serve] cannot check out {build.commit}: {exc}\n")
                self.queue.finish(build.id, "failed", str(exc), None, ())
                return
            spec = RunSpec(build.id, str(work_tree), build.flavor, build.goals, dict(self.settings.overrides),
                           self.settings.push, self.settings.export, str(artifact_dir), str(run_dir / "result.json"),
                           parent_pid=os.getpid())
            spec.write(run_dir / "spec.json")
            code = self._supervise(build.id, run_dir / "spec.json", log_file)
        self.mirror.remove(work_tree)
        self._finish(build, code, run_dir / "result.json", artifact_dir)

    def _supervise(self, build_id: int, spec: Path, log_file: Any) -> int:
        """Run the runner; SIGINT its session when a cancel is requested or the service stops."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLCC_WEBHOOK", "SLCC_API"))}
        proc = subprocess.Popen([sys.executable, "-m", "slcc.serve.runner", str(spec)], stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        self.queue.set_pid(build_id, proc.pid)
        signalled = False
        while True:
            try:
                return proc.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            if not signalled and (self.stopping.is_set() or self.queue.cancel_requested(build_id)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)
                signalled = True

    def _finish(self, build: Build, code: int, result_path: Path, artifact_dir: Path) -> None:
        try:
            result = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {"report": None, "error": f"the build process exited {code} without a result"}
        report = result.get("report")
        if report:
            write_text_atomic(artifact_dir / "report.json", json.dumps(report, indent=2) + "\n")
            bake = Path(report["run_dir"]) / "bake.hcl" if report.get("run_dir") else None
            if bake and bake.is_file():
                shutil.copyfile(bake, artifact_dir / "bake.hcl")
        artifacts = sorted(str(p.relative_to(self.artifact_root)) for p in artifact_dir.rglob("*")
                           if p.is_file() and not p.name.startswith("."))
        if code == 0:
            status, reason = "succeeded", None
        elif code == 130 and self.queue.cancel_requested(build.id):
            status, reason = "cancelled", "cancelled on request"
        elif code == 130 and self.stopping.is_set():
            self.queue.requeue(build.id, "re-queued: the service was stopped during the build")
            log.info("build %d: re-queued (service stopping)", build.id)
            return
        else:
            status, reason = "failed", result.get("error") or f"exit {code}"
        self.queue.finish(build.id, status, reason, report, artifacts)
        log.info("build %d: %s%s", build.id, status, f" ({reason})" if reason else "")
        active = {b.id for b in self.queue.list(1000, "running")} | {b.id for b in self.queue.list(1000, "queued")}
        pruned = prune_build_files(self.settings.state_dir, self.settings.keep, active)
        if pruned:
            log.info("removed logs and artifacts of %d old build(s), up to build %d", len(pruned), pruned[-1])


def _is_runner(pid: int) -> bool:
    """Whether ``pid`` is still one of our runners (a recorded pid may have been reused since)."""
    try:
        return b"slcc.serve.runner" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _stop_session(pid: int) -> None:
    """Stop a runner left by a crashed service (normally gone already: it dies with its parent)."""
    if not _is_runner(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            time.sleep(0.1)
            os.killpg(pid, 0)
        os.killpg(pid, signal.SIGKILL)
