"""The failing step is blamed by what BuildKit reports, on the real engine (issue 18).

A three-level flavor (base <- mid <- app, app multi-stage) where every Dockerfile holds the same
RUN line and the failing RUN uses a build arg: buildx labels the failing vertex with any target
that shares it, so matching its label or its expanded text blamed the wrong step.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ImageCleanup
from tests.helpers import run_slcc, write_files

FLAVOR = """\
[flavor]
goals = ["app"]

[args]
BASE = "slcc-test/busybox:1"
SLEEP = "0"

[steps.base]

[steps.mid]
depends = ["base"]

[steps.app]
depends = ["mid"]
"""
BASE = "ARG BASE\nFROM ${BASE}\nARG SLEEP\nRUN echo same line\nRUN sleep ${SLEEP} && echo base %s\n"
MID = "FROM base\nRUN echo same line\nARG SLEEP\nRUN sleep ${SLEEP} && echo mid %s\n"
APP = 'FROM mid AS build\nRUN echo same line\nRUN echo "a: b" %s\nFROM build\nRUN echo app\n'
FAIL = "&& exit 3"


@pytest.fixture
def repo(tmp_path: Path, base_image: str) -> Path:
    return write_files(tmp_path / "repo", {"flavors/ft/flavor.toml": FLAVOR, "flavors/ft/base/Dockerfile": BASE % "",
                                           "flavors/ft/mid/Dockerfile": MID % "", "flavors/ft/app/Dockerfile": APP % ""})


def build(repo: Path, repository: str, cleanup: ImageCleanup, expect: int) -> dict[str, Any]:
    proc = run_slcc(repo, "build", "ft", "--json", "--progress=quiet", "--repository", repository)
    assert proc.returncode == expect, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    cleanup.add(*(s["tag"] for s in report["steps"]))
    report["status"] = {s["step"]: s["status"] for s in report["steps"]}
    report["stderr"] = proc.stderr
    return report


@pytest.mark.parametrize("failing", ["base", "mid", "app"])
def test_the_step_whose_instruction_failed_is_blamed_every_time(
        repo: Path, image_cleanup: ImageCleanup, failing: str) -> None:
    texts = {"base": BASE, "mid": MID, "app": APP}
    write_files(repo, {f"flavors/ft/{failing}/Dockerfile": texts[failing] % FAIL})
    repository = f"slcct{uuid.uuid4().hex[:10]}"
    for _ in range(3 if failing == "base" else 1):
        report = build(repo, repository, image_cleanup, expect=1)
        assert report["status"][failing] == "failed", report["stderr"]
        failed = [s for s in report["steps"] if s["status"] == "failed"]
        assert len(failed) == 1 and FAIL in failed[0]["failure"]["instruction"]
        assert f"step ft/{failing} failed at" in report["stderr"]
    if failing == "app":  # an instruction holding ": " stays whole
        assert report["steps"][2]["failure"]["instruction"] == 'RUN echo "a: b" && exit 3'
