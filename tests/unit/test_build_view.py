"""Step rows from recorded bake logs: attribution of shared vertices, benign retries, the views.

The logs are in tests/fixtures/bake_logs/ (see its README.md); DOCKERFILES is the flavor they
were recorded with.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from slcc.commands.build import _candidates, _failed_step
from slcc.engine.bake_runner import run_bake
from slcc.engine.protocol import BakeOutcome, BakeRequest, CommandJournal
from slcc.loading.project import open_project
from slcc.output.build_view import live_capable, make_view
from slcc.planning.plan import make_plan
from slcc.progress.attribution import Candidate, vertex_owner
from slcc.progress.bake_log import is_benign, parse_lines
from slcc.progress.printer import JsonView, LinesView
from slcc.progress.records import StagePosition, StepEvent, StepRow
from slcc.progress.tracker import BuildTracker
from tests.helpers import fake_digests, make_repo

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "bake_logs"
SAME = "RUN echo same-line; sleep 2; echo done-base > /b"
LOOP = "RUN for i in 1 2 3; do echo app-out $i; sleep 1; done"
DOCKERFILES = {
    "base": f"ARG BASE\nFROM ${{BASE}}\nCOPY hello.txt /hello.txt\n{SAME}\n",
    "app": f"FROM base\nCOPY --from=src . /src\n{SAME}\n{LOOP}\n",
    "tool": "FROM base\nRUN echo tool-out; sleep 3\n",
}
TARGETS = ("demo_base", "demo_app", "demo_tool")
BELOW = {"base": (), "app": ("base",), "tool": ("base",)}
CONTEXTS = {"base": frozenset(), "app": frozenset({"base", "src"}), "tool": frozenset({"base"})}


def candidate(step: str) -> Candidate:
    return Candidate(("demo", step), DOCKERFILES[step], False, CONTEXTS[step])


def candidates() -> dict[str, list[Candidate]]:
    return {f"demo_{step}": [candidate(step), *(candidate(d) for d in BELOW[step])] for step in DOCKERFILES}


def replay(name: str) -> tuple[BuildTracker, list[StepEvent]]:
    tracker = BuildTracker([StepRow(f"demo/{step}", "waiting") for step in DOCKERFILES], candidates(), TARGETS, 0.0)
    events = tracker.start()
    for i, line in enumerate((LOGS / name).read_text(encoding="utf-8").splitlines()):
        events += tracker.feed(line, float(i))
    return tracker, events + tracker.finish(True, 1000.0)


def instructions_run(events: list[StepEvent]) -> list[tuple[str, str]]:
    return [(e.row.step, e.row.instruction) for e in events if e.output is None and e.row.status == "running"]


def test_identical_run_lines_go_to_the_step_whose_dockerfile_has_them_there() -> None:
    # "[demo_app 3/3] RUN same" is base's (3rd of 3), "[demo_app stage-0 2/4] RUN same" is app's.
    _, events = replay("view_shared_vertex.log")
    ran = instructions_run(events)
    assert ran.index(("demo/base", SAME)) < ran.index(("demo/app", SAME))
    assert ("demo/app", LOOP) in ran
    assert {step for step, _ in ran} == {"demo/base", "demo/app", "demo/tool"}
    owners = {(e.row.step, e.output) for e in events if e.output is not None}
    assert owners == {("demo/base", "same-line"), ("demo/app", "same-line"), ("demo/tool", "tool-out"),
                      ("demo/app", "app-out 1"), ("demo/app", "app-out 2"), ("demo/app", "app-out 3")}


def test_every_step_ends_done_with_its_own_timing() -> None:
    tracker, _ = replay("view_shared_vertex.log")
    rows = {row.step: row for row in tracker.snapshot()}
    assert {row.status for row in rows.values()} == {"done"}
    assert all(row.started is not None and row.ended is not None for row in rows.values())
    assert rows["demo/base"].ended < rows["demo/app"].ended  # type: ignore[operator]


@pytest.mark.parametrize(("label", "position", "owner"), [
    ("demo_app", StagePosition(3, 3), "base"),  # base's vertex, labelled with its dependent
    ("demo_app", StagePosition(2, 4), "app"),  # FROM base makes no vertex: app's 3rd line is 2/4
    ("demo_tool", StagePosition(3, 3), "base"),
    ("demo_app", None, "base"),  # no position: the deepest step holding the line, as for failures
    ("demo_base", StagePosition(2, 4), "base"),  # only the labelled step and what it builds on
])
def test_owner_of_a_shared_instruction(label: str, position: StagePosition | None, owner: str) -> None:
    assert vertex_owner(SAME, position, candidates()[label]) == ("demo", owner)


def test_same_line_same_stage_size_is_told_apart_by_its_place() -> None:
    # tests/fixtures/bake_logs: mid and base both have 3 numbered instructions and the line
    # "RUN echo same line" 2nd; mid's FROM names base, so BuildKit prints it 1/3, base's 2/3.
    base = Candidate(("ft", "base"), "ARG BASE\nFROM ${BASE}\nARG SLEEP\nRUN echo same line\nRUN sleep 1\n", False)
    mid = Candidate(("ft", "mid"), "FROM base\nRUN echo same line\nARG SLEEP\nRUN echo mid\n", False,
                    frozenset({"base"}))
    assert vertex_owner("RUN echo same line", StagePosition(1, 3), [mid, base]) == ("ft", "mid")
    assert vertex_owner("RUN echo same line", StagePosition(2, 3), [mid, base]) == ("ft", "base")


def test_expanded_args_and_odd_spacing_still_match() -> None:
    text = "FROM x\nRUN pip  install \\\n    ${PKG}==1\n"
    other = Candidate(("f", "other"), "FROM x\nRUN true\n", False)
    mine = Candidate(("f", "s"), text, False)
    assert vertex_owner("RUN pip install numpy==1", StagePosition(2, 2), [other, mine]) == ("f", "s")
    assert vertex_owner("RUN pip install numpy==2 extra", StagePosition(2, 2), [other, mine]) == ("f", "other")


def test_a_failure_is_blamed_and_shown_by_the_same_attribution(tmp_path: Path) -> None:
    # Identical RUN lines in base and app: the label's N/M decides, for the report and the rows.
    repo = make_repo(tmp_path / "repo", {
        "flavors/demo/base/Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY hello.txt /hello.txt\nRUN exit 3\n",
        "flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=src . /src\nRUN exit 3\nRUN true\n",
    })
    project = open_project(repo, ["demo"], {"ca_bundle": "none"}, resolver=fake_digests)
    plan = make_plan(project.flavors, project.hash_all(), {"demo": ("app",)}, "slcc", set(), set())
    for label, owner in (("[demo_app 3/3]", "base"), ("[demo_app stage-0 2/4]", "app")):
        log = tmp_path / f"{owner}.log"
        log.write_text(f"#9 {label} RUN exit 3\n#9 0.2 some output\n#9 ERROR: process \"/bin/sh -c exit 3\" failed\n"
                       "ERROR: failed to solve: process \"/bin/sh -c exit 3\" failed\n", encoding="utf-8")
        lines = log.read_text(encoding="utf-8").splitlines()
        progress = parse_lines(lines, ["demo_base", "demo_app"])
        failure = _failed_step(project, plan, BakeOutcome(1, 1.0, progress), set(), log)
        assert failure is not None and failure.step == owner
        assert failure.output == ("some output",)
        tracker = BuildTracker([StepRow("demo/base", "waiting"), StepRow("demo/app", "waiting")],
                               _candidates(project, plan), ["demo_base", "demo_app"], 0.0)
        for line in lines:
            tracker.feed(line, 1.0)
        assert {r.step: r.status for r in tracker.snapshot()} == {
            "demo/base": "failed" if owner == "base" else "waiting",
            "demo/app": "failed" if owner == "app" else "waiting"}


def test_benign_containerd_retries_are_no_error_and_stay_out_of_the_view() -> None:
    log = (LOGS / "view_benign_retries.log").read_text(encoding="utf-8")
    assert len([line for line in log.splitlines() if is_benign(line)]) == 3  # vertex ERROR and bake's ERROR
    tracker, events = replay("view_benign_retries.log")
    assert {row.status for row in tracker.snapshot()} == {"done"}
    lines: list[str] = []
    view = LinesView(lines.append, output=True)
    for event in events:
        view.show(event)
    assert lines and not [line for line in lines if "ERROR" in line or "locked" in line]
    progress = parse_lines(log.splitlines(), list(TARGETS))
    assert progress.failures == () and progress.error_lines == ()


def test_a_real_error_is_not_taken_for_a_benign_one() -> None:
    assert not is_benign('ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully')
    assert not is_benign("#8 ERROR: rpc error: code = Unavailable desc = connection refused")


def test_plain_lines_name_the_owning_step() -> None:
    _, events = replay("view_shared_vertex.log")
    lines: list[str] = []
    view = LinesView(lines.append, output=False)
    for event in events:
        view.show(event)
    assert f"[demo/base] {SAME}" in lines
    assert f"[demo/app] {SAME}" in lines
    assert not [line for line in lines if line.endswith("app-out 1")]  # output only with --progress plain
    assert [line for line in lines if line.startswith("[demo/app] done in ")]


def test_json_events_carry_step_status_instruction_and_timing() -> None:
    _, events = replay("view_shared_vertex.log")
    lines: list[str] = []
    view = JsonView(lines.append)
    for event in events:
        view.show(event)
    objects = [json.loads(line) for line in lines]
    assert {o["step"] for o in objects if o["status"] == "waiting"} == {"demo/base", "demo/app", "demo/tool"}
    running = next(o for o in objects if o["step"] == "demo/app" and o["instruction"] == LOOP)
    assert running["status"] == "running" and running["started"] is not None and running["elapsed"] >= 0
    assert {"app-out 1", "app-out 2"} <= {o.get("output") for o in objects if o["step"] == "demo/app"}
    done = [o for o in objects if o["status"] == "done"]
    assert len(done) == 3 and all(o["elapsed"] > 0 for o in done)


class FakeTty:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(("tty", "term", "live"), [
    (True, "xterm-256color", True), (True, "dumb", False), (False, "xterm", False), (True, "", True)])
def test_a_live_view_needs_a_terminal_that_is_not_dumb(tty: bool, term: str, live: bool) -> None:
    assert live_capable(FakeTty(tty), {"TERM": term}) is live  # type: ignore[arg-type]


def test_without_a_terminal_auto_and_plain_are_lines_and_json_is_json() -> None:
    assert isinstance(make_view("auto", print, None), LinesView)
    assert isinstance(make_view("plain", print, FakeTty(True)), LinesView)  # type: ignore[arg-type]
    assert isinstance(make_view("json", print, FakeTty(True)), JsonView)  # type: ignore[arg-type]


def test_live_rows_fit_the_width_and_collapse_cached_steps() -> None:
    import io

    from rich.console import Console
    from rich.spinner import Spinner

    from slcc.output.live_view import _table, shown

    rows = [StepRow("demo/a", "cached"), StepRow("demo/b", "cached"),
            StepRow("demo/base", "running", "RUN --mount=type=cache,target=/var/cache/apt  apt-get install -y "
                    + "x" * 80, started=1.0),
            StepRow("demo/app", "failed", "RUN exit 3", started=2.0, ended=4.5), StepRow("demo/tool", "waiting")]
    out = io.StringIO()
    Console(file=out, width=60, color_system=None).print(_table(rows, 10.0, Spinner("dots"), 60))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert len(lines) == 4 and "2 cached" in lines[0] and "demo/a, demo/b" in lines[0]
    assert "running" in lines[1] and "9.0s" in lines[1] and "RUN apt-get install -y xxx" in lines[1]
    assert lines[1].endswith("…")
    assert "failed" in lines[2] and "2.5s" in lines[2] and "RUN exit 3" in lines[2]
    assert "waiting" in lines[3]
    assert shown("RUN --mount=type=bind,from=client,target=/src   make  -C /src") == "RUN make -C /src"


def test_bake_runner_keeps_benign_retries_in_the_log_but_not_as_errors(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in `docker` replays the recorded log, so the real runner tees and parses it.
    recorded = LOGS / "view_benign_retries.log"
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write(open({str(recorded)!r}).read())\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr("slcc.engine.bake_runner.standalone_buildx", lambda: None)  # through `docker`
    log = tmp_path / "run" / "build.log"
    seen: list[str] = []
    outcome = run_bake(BakeRequest(tmp_path / "bake.hcl", TARGETS, tmp_path, log), CommandJournal(), seen.append)
    assert outcome.returncode == 0
    kept = [line for line in log.read_text(encoding="utf-8").splitlines() if is_benign(line)]
    assert len(kept) == 3 and len([line for line in seen if is_benign(line)]) == 3
    assert outcome.progress.error_lines == () and outcome.progress.failures == ()
