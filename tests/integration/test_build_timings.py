"""BuildKit's own time in `slcc build --json`, read from the real bake's vertex timings."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.conftest import ImageCleanup
from tests.helpers import make_repo, run_slcc

# base sleeps in a RUN: BuildKit's own duration of that vertex is at least a second, however
# loaded the machine is. The nonce keeps BuildKit's cache from answering it.
SLOW_BASE = "ARG BASE\nFROM ${{BASE}}\nCOPY hello.txt /hello.txt\nRUN sleep 1 && echo {nonce} && cat /hello.txt > /base.txt\n"


def test_a_build_reports_buildkit_time_per_step_and_for_the_bake(tmp_path: Path, base_image: str,
                                                                  image_cleanup: ImageCleanup) -> None:
    repo = make_repo(tmp_path / "repo", {"flavors/demo/base/Dockerfile": SLOW_BASE.format(nonce=uuid.uuid4().hex)})
    proc = run_slcc(repo, "build", "demo", "--json", "--progress", "quiet", "--repository",
                    f"slcct{uuid.uuid4().hex[:10]}")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    image_cleanup.add(*(s["tag"] for s in report["steps"]))
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["base"]["buildkit_seconds"] >= 1.0  # the sleep, as BuildKit timed it
    assert steps["app"]["buildkit_seconds"] >= 0  # its COPY, RUN and export
    # The bake's span holds base's sleep; bake and build wrap it.
    assert report["buildkit_seconds"] >= 1.0
    assert report["bake_seconds"] > 0 and report["seconds"] >= report["bake_seconds"]
    saved = json.loads((Path(report["run_dir"]) / "report.json").read_text(encoding="utf-8"))
    assert saved["buildkit_seconds"] == report["buildkit_seconds"]
