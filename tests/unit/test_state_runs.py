"""Run directories under .slcc/runs: one fresh folder per build, only the newest KEEP_RUNS kept."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from slcc.errors import WriteError
from slcc.state import store
from slcc.state.store import State

KEEP = 3


@pytest.fixture(autouse=True)
def keep_few(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "KEEP_RUNS", KEEP)


def _old_runs(state_dir: Path, count: int) -> list[Path]:
    """Runs from an earlier day, oldest first, each with a log and a leftover subdirectory."""
    runs = []
    for i in range(count):
        run = state_dir / "runs" / f"20200101-0000{i:02}-1"
        (run / "export-tmp").mkdir(parents=True)
        (run / "build.log").write_text("log", encoding="utf-8")
        (run / "build.log").chmod(0o444)
        runs.append(run)
    return runs


def test_a_new_run_prunes_all_but_the_newest(tmp_path: Path) -> None:
    old = _old_runs(tmp_path, 5)
    new = State(tmp_path).new_run()
    assert new.is_dir() and new.parent == tmp_path / "runs"
    assert sorted((tmp_path / "runs").iterdir()) == [*old[-(KEEP - 1):], new]


def test_runs_started_in_the_same_second_get_their_own_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = SimpleNamespace(strftime=lambda _fmt, _t: "20991231-235959", gmtime=time.gmtime)
    monkeypatch.setattr(store, "time", frozen)  # both runs start in the same second
    state = State(tmp_path)
    first, second = state.new_run(), state.new_run()
    assert first != second
    assert second.name == f"{first.name}-1"
    assert first.is_dir() and second.is_dir()


def test_pruning_leaves_files_and_symlinked_directories_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine", encoding="utf-8")
    runs = tmp_path / "state" / "runs"
    runs.mkdir(parents=True)
    (runs / "00000000-notes.txt").write_text("user's", encoding="utf-8")
    (runs / "00000000-link").symlink_to(outside)
    _old_runs(tmp_path / "state", KEEP + 2)
    State(tmp_path / "state").new_run()
    assert (runs / "00000000-notes.txt").is_file()
    assert (runs / "00000000-link").is_symlink() and (outside / "keep.txt").is_file()
    assert len([p for p in runs.iterdir() if p.is_dir() and not p.is_symlink()]) == KEEP


def test_an_unwritable_state_dir_is_a_write_error(tmp_path: Path) -> None:
    (tmp_path / "runs").write_text("a file where the runs folder goes", encoding="utf-8")
    with pytest.raises(WriteError):
        State(tmp_path).new_run()
