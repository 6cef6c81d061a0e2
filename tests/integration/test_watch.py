"""`slcc watch` on the real engine: one subprocess, driven by file edits, read through --json."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ImageCleanup
from tests.helpers import DEMO_FILES, make_repo, run_slcc, write_files

# The demo flavor plus a step `other` that the goal (app) does not need.
FILES = {
    "flavors/demo/flavor.toml": DEMO_FILES["flavors/demo/flavor.toml"] + "\n[steps.other]\n",
    "flavors/demo/other/Dockerfile": "FROM scratch\nCOPY Dockerfile /\n",
}
APP_DOCKERFILE = "flavors/demo/app/Dockerfile"


class WatchProcess:
    """`slcc watch` as a child process; its stdout JSON cycles arrive on a queue."""

    def __init__(self, repo: Path, *args: str) -> None:
        self.repository = args[args.index("--repository") + 1] if "--repository" in args else "slcc"
        self.stderr_path = repo.parent / "watch.stderr"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "slcc", "watch", "demo", "--json", "--progress", "quiet", *args],
            cwd=repo, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
            env={**os.environ, "SLCC_CA_BUNDLE": "none"}, start_new_session=True,
        )
        self.cycles: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:  # closed when slcc's output ends
            for line in self.proc.stdout:
                self.cycles.put(json.loads(line))

    def next_cycle(self, timeout: float = 30.0) -> dict[str, Any]:
        try:
            return self.cycles.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no watch cycle within {timeout} s; stderr:\n{self.stderr()}")

    def assert_quiet(self, seconds: float) -> None:
        try:
            cycle = self.cycles.get(timeout=seconds)
        except queue.Empty:
            return
        pytest.fail(f"unexpected cycle: {cycle}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def bake_pid(self, timeout: float) -> int:
        """The pid of the `docker buildx bake` slcc started (its own process group)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(["pgrep", "-P", str(self.proc.pid), "-f", "buildx bake"],
                                 capture_output=True, text=True, check=False).stdout.split()
            if out:
                return int(out[0])
            time.sleep(0.1)
        pytest.fail(f"no bake started within {timeout} s; stderr:\n{self.stderr()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        self._stderr.close()


@pytest.fixture
def repository(image_cleanup: ImageCleanup) -> Iterator[str]:
    name = f"slcct{uuid.uuid4().hex[:10]}"
    yield name
    tags = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                           "--filter", f"reference={name}/*"], capture_output=True, text=True, check=False)
    image_cleanup.add(*tags.stdout.split())


@pytest.fixture
def watcher(tmp_path: Path, base_image: str, repository: str) -> Iterator[tuple[Path, WatchProcess]]:
    repo = make_repo(tmp_path / "repo", FILES)
    process = WatchProcess(repo, "--repository", repository)
    yield repo, process
    process.close()


def save(repo: Path, rel: str, text: str) -> None:
    """Save the way editors do: write a temp file beside it, then rename it over the original."""
    path = repo / rel
    temp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temp.write_text(text)
    os.replace(temp, path)


def test_watch_rebuilds_what_changed_and_stops_cleanly(watcher: tuple[Path, WatchProcess]) -> None:
    repo, watch = watcher
    initial = watch.next_cycle(timeout=60)
    assert (initial["result"], sorted(initial["steps"])) == ("ok", ["app", "base"]), watch.stderr()
    first_tag = initial["tags"]["app"]

    save(repo, "src/main.txt", "main v2\n")  # the mapping: only app
    mapped = watch.next_cycle()
    assert (mapped["result"], mapped["steps"], mapped["changed"]) == ("ok", ["app"], ["src/main.txt"])
    assert mapped["tags"]["app"] != first_tag

    save(repo, "flavors/demo/other/Dockerfile", "FROM scratch\nCOPY Dockerfile /x\n")
    other = watch.next_cycle()
    assert (other["result"], other["detail"]) == ("ignored", "not needed by goals")
    write_files(repo, {"README.md": "not watched at all\n", "src/.main.txt.swp": "editor swap\n"})
    watch.assert_quiet(1.0)

    for i in range(20):  # a burst of saves: the first may build at once (a lone save), the rest coalesce
        save(repo, "src/main.txt", f"burst {i}\n")
        time.sleep(0.03)
    final_tag = next(r["tag"] for r in json.loads(run_slcc(repo, "hash", "demo", "--json", "--repository",
                                                             watch.repository).stdout) if r["step"] == "app")
    burst = [watch.next_cycle()]
    if burst[0]["tags"].get("app") != final_tag:  # the first save built alone: one build for the other 19
        burst.append(watch.next_cycle())
    assert [(c["result"], c["steps"]) for c in burst] == [("ok", ["app"])] * len(burst), burst
    assert burst[-1]["tags"]["app"] == final_tag
    watch.assert_quiet(1.5)

    save(repo, APP_DOCKERFILE, "FROM base\nCOPY --from=src . /src\nRUN exit 1\n")
    failed = watch.next_cycle()
    assert failed["result"] == "failed" and "RUN exit 1" in failed["detail"], failed
    save(repo, APP_DOCKERFILE, "FROM base\nCOPY --from=src . /src\nRUN true\n")
    fixed = watch.next_cycle()
    assert (fixed["result"], fixed["steps"]) == ("ok", ["app"])

    # Ctrl-C in the middle of a bake: bake is stopped and nothing is left behind.
    save(repo, APP_DOCKERFILE, "FROM base\nCOPY --from=src . /src\nRUN sleep 60\n")
    bake = watch.bake_pid(timeout=20)
    watch.proc.send_signal(signal.SIGINT)
    assert watch.proc.wait(timeout=30) == 130
    leftovers = subprocess.run(["pgrep", "-g", str(bake)], capture_output=True, text=True, check=False)
    assert leftovers.stdout.split() == [], "processes of the bake's process group survived"
    stderr = watch.stderr()
    assert "Traceback" not in stderr and "slcc: interrupted" in stderr, stderr
