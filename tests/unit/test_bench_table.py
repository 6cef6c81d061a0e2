"""The bench's bookkeeping (tests/benchmarks/run.py): no speed is asserted, only that the table
says what was measured: turn order, min/median/max, load, ratios, and the rows one run covers."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def run() -> ModuleType:
    sys.path.insert(0, str(BENCH))  # the bench's scripts import each other by plain name
    try:
        return importlib.import_module("run")
    finally:
        sys.path.remove(str(BENCH))


def test_each_tool_goes_first_once_every_len_repetitions(run: ModuleType) -> None:
    orders = [run.bt.rotated(run.TOOLS, rep) for rep in range(len(run.TOOLS))]
    assert [order[0] for order in orders] == list(run.TOOLS)
    assert all(sorted(order) == sorted(run.TOOLS) for order in orders)
    assert run.bt.rotated(run.TOOLS, len(run.TOOLS)) == list(run.TOOLS)


def test_a_cell_shows_median_min_max_and_n_and_the_row_its_load(run: ModuleType) -> None:
    row = run.Row("noop", "no-op", {"slcc": 0.5, "raw bake": 3.0, "exaslct": "n/a: skipped"},
                  samples={"slcc": [0.4, 0.5, 0.9], "raw bake": [3.0]},
                  load={"start": [1.25, 1.0, 1.0], "end": [6.0, 2.0, 1.0], "nproc": 2})
    header, line = run.table([row])
    cells = dict(zip(header, line, strict=True))
    assert cells["slcc"] == "500 ms (400 ms-900 ms, n=3)"
    assert cells["raw bake"] == "3.00 s"  # one sample: no range
    assert cells["exaslct"] == "n/a: skipped"
    assert cells["raw/slcc"] == "6.0x" and cells["exaslct/slcc"] == "-"
    assert cells["load"] == "1.2->6.0 /2"


def test_one_run_covers_every_row_and_cold_comes_last(run: ModuleType) -> None:
    config = run.parse_args([])
    assert config.only == run.ROWS and set(run.ROW_FUNCS) == set(run.ROWS)
    assert {"noop", "noop-images", "lock", "watch", "serve", "cache", "cold"} <= set(run.ROWS)
    assert run.ROWS[-1] == "cold" and config.cold_reps == 3
    assert set(run.MINUTES) == set(run.ROWS)
    assert run.estimate_minutes(config) > run.estimate_minutes(run.parse_args(["--only", "noop"]))
