"""Directory records on the real engine: after a no-op answered from them, edits are still built.

The repository is left to age past the racy window first, so the cold build stores records
for every directory and the no-op replays them; then each edit is one a replay could miss if
the record compared too little: the same size with mtime put back (only ctime tells), a new
file, an exec bit.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from slcc.hashing.statcache import RACY_NS, StatCache
from tests.conftest import ImageCleanup
from tests.helpers import make_repo, run_slcc


def _build(repo: Path, repository: str, cleanup: ImageCleanup) -> dict[str, str]:
    proc = run_slcc(repo, "build", "demo", "--json", "--repository", repository, "--goal", "base")
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    cleanup.add(*(s["tag"] for s in report["steps"]))
    return {s["step"]: s["status"] for s in report["steps"]}


def test_edits_after_a_replayed_noop_are_built(tmp_path: Path, base_image: str, image_cleanup: ImageCleanup) -> None:
    repo = make_repo(tmp_path / "repo")
    repository = f"slcct{uuid.uuid4().hex[:10]}"
    time.sleep(RACY_NS / 1e9 + 0.2)  # every file older than the racy window: records are kept
    assert _build(repo, repository, image_cleanup) == {"base": "built"}
    assert StatCache.load(repo / ".slcc" / "statcache.bin").directories > 0
    assert _build(repo, repository, image_cleanup) == {"base": "fresh-local"}

    hello = repo / "flavors" / "demo" / "base" / "hello.txt"
    before = os.stat(hello)
    hello.write_text("HELLO\n")  # same size
    os.utime(hello, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime
    assert _build(repo, repository, image_cleanup) == {"base": "built"}

    (hello.parent / "extra.txt").write_text("x\n")
    assert _build(repo, repository, image_cleanup) == {"base": "built"}

    hello.chmod(0o755)
    assert _build(repo, repository, image_cleanup) == {"base": "built"}
    assert _build(repo, repository, image_cleanup) == {"base": "fresh-local"}
