"""BuildKit's own time in a bake, from the vertex events of plain progress (slcc.progress.timings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.progress.bake_log import ProgressParser
from slcc.progress.records import VertexEvent, VertexState
from slcc.progress.timings import BAKE_DEFINITIONS, buildkit_time

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "bake_logs"


def ev(vertex: int, state: VertexState, at: float, seconds: float | None = None, target: str | None = "app",
       instruction: str = "RUN make") -> VertexEvent:
    return VertexEvent(vertex, state, target, instruction, at, seconds)


def test_the_span_runs_from_the_first_start_to_the_last_end() -> None:
    timing = buildkit_time([ev(2, "started", 10.0), ev(3, "started", 10.5), ev(2, "done", 11.0, 1.0),
                            ev(3, "done", 14.0, 3.5)])
    assert timing is not None
    assert timing.span == 4.0
    assert timing.work == {"app": 4.5}  # both vertices' own durations
    assert timing.vertices == 2


def test_a_header_printed_late_starts_the_vertex_at_its_end_minus_its_duration() -> None:
    # buildx printed the header of #35 0.85 s after it started (another vertex was talking).
    timing = buildkit_time([ev(34, "started", 3.79), ev(34, "done", 4.02, 0.1), ev(35, "started", 4.02),
                            ev(35, "done", 6.08, 2.9)])
    assert timing is not None
    assert timing.span == pytest.approx(6.08 - (6.08 - 2.9))


def test_buildx_reading_the_bake_file_is_not_buildkit_time() -> None:
    timing = buildkit_time([ev(1, "started", 0.0, target=None, instruction=BAKE_DEFINITIONS),
                            ev(1, "done", 0.1, 0.0, target=None, instruction=BAKE_DEFINITIONS),
                            ev(2, "started", 2.0), ev(2, "done", 3.0, 1.0)])
    assert timing is not None
    assert timing.span == 1.0


def test_a_vertex_ended_twice_counts_once_with_its_last_end() -> None:
    timing = buildkit_time([ev(9, "started", 1.0), ev(9, "done", 1.1, 0.0), ev(9, "started", 2.0),
                            ev(9, "done", 2.5, 0.1)])
    assert timing is not None
    assert (timing.span, timing.work, timing.vertices) == (1.5, {"app": 0.1}, 1)


def test_owners_decide_whose_work_a_vertex_is_and_bake_work_counts_in_the_span_only() -> None:
    events = [ev(4, "started", 0.0, target=None, instruction="load .dockerignore"), ev(4, "done", 0.2, 0.1),
              ev(5, "started", 0.2, target="py_release"), ev(5, "done", 2.2, 2.0),
              ev(6, "started", 2.2, target="py_release"), ev(6, "cached", 2.3)]
    timing = buildkit_time(events, owners={5: "py/build_run", 6: "py/release"})
    assert timing is not None
    assert timing.span == 2.3
    assert timing.work == {"py/build_run": 2.0, "py/release": 0.0}


def test_nothing_ended_is_no_buildkit_time() -> None:
    assert buildkit_time([]) is None
    assert buildkit_time([ev(2, "started", 1.0)]) is None


def test_a_recorded_log_sums_each_targets_done_durations() -> None:
    parser = ProgressParser(["ft_base", "ft_mid", "ft_app"])
    lines = (LOGS / "app_builds_after_cached_deps.log").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        parser.feed(line, float(i))
    timing = buildkit_time(parser.events)
    assert timing is not None
    done = [e for e in parser.events if e.state in ("done", "cached", "failed", "canceled")]
    assert timing.vertices == len({e.vertex for e in done if e.instruction != BAKE_DEFINITIONS})
    assert timing.span > 0
    labelled = {e.target for e in done if e.target}
    assert set(timing.work) == labelled
