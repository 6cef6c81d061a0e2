"""Atomic writes: durable (fsync before the rename) unless the caller says a crash loses the file anyway."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slcc.commands.build import BuildIO, BuildOptions, build
from slcc.loading.project import open_project
from slcc.state.atomic import write_text_atomic
from tests.fakes import FakeEngine
from tests.helpers import fake_digests, make_repo


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_a_durable_write_syncs_and_a_run_record_does_not(tmp_path: Path, fsyncs: list[int]) -> None:
    write_text_atomic(tmp_path / "kept.json", "{}\n")
    assert len(fsyncs) == 1
    write_text_atomic(tmp_path / "run" / "bake.hcl", "# x\n", durable=False)
    assert len(fsyncs) == 1
    assert (tmp_path / "run" / "bake.hcl").read_text(encoding="utf-8") == "# x\n"
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["bake.hcl"]  # no temp file left


def test_a_build_syncs_its_manifests_but_not_its_bake_file_or_report(tmp_path: Path, fsyncs: list[int]) -> None:
    repo = make_repo(tmp_path / "repo")
    project = open_project(repo, ["demo"], {"ca_bundle": "none"}, use_stat_cache=False, resolver=fake_digests)
    report = build(project, BuildOptions(), BuildIO(lambda m: None, lambda m: None, FakeEngine()))
    assert report.run_dir is not None and (report.run_dir / "bake.hcl").is_file()
    assert (report.run_dir / "report.json").is_file()
    assert len(fsyncs) == len(report.steps)  # one manifest per built step, nothing else
