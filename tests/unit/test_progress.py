"""Reading buildx's plain progress: vertex records, the fatal failure, and the step to blame.

The logs under tests/fixtures/bake_logs/ are real `docker buildx bake --progress=plain` output of
a three-level flavor (base <- mid <- app, app multi-stage) with identical RUN lines in every
step and a build arg in the failing RUN (see tests/fixtures/bake_logs/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.progress.attribution import Candidate, owner
from slcc.progress.bake_log import BakeProgress, fatal_failure, instruction_output, parse_lines
from slcc.progress.records import SourceLine, StagePosition, VertexFailure

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "bake_logs"
TARGETS = ["ft_base", "ft_mid", "ft_app"]
# The Dockerfiles each log was recorded with.
BASE_FAILS = "ARG BASE\nFROM ${BASE}\nARG SLEEP\nRUN echo same line\nRUN sleep ${SLEEP} && echo failing now && exit 3\n"
BASE_OK = "ARG BASE\nFROM ${BASE}\nARG SLEEP\nRUN echo same line\nRUN sleep ${SLEEP} && echo base ok\n"
MID_FIRST = "FROM base\nRUN echo same line\nRUN echo mid\n"
MID_FAILS = "FROM base\nRUN echo same line\nARG SLEEP\nRUN sleep ${SLEEP} && echo failing now && exit 3\n"
MID_OK = "FROM base\nRUN echo same line\nARG SLEEP\nRUN sleep ${SLEEP} && echo mid ok\n"
APP_OK = "FROM mid AS build\nRUN echo same line\nFROM build\nRUN echo app\n"
APP_FAILS = 'FROM mid AS build\nRUN echo same line\nRUN echo "a: b" && exit 4\nFROM build\nRUN echo app\n'


def read(name: str, targets: list[str] = TARGETS) -> BakeProgress:
    return parse_lines((LOGS / name).read_text(encoding="utf-8").splitlines(), targets)


def candidates(app: str, mid: str, base: str, built: frozenset[str] = frozenset()) -> list[Candidate]:
    texts = {"app": app, "mid": mid, "base": base}
    return [Candidate(("ft", s), texts[s], s in built) for s in ("app", "mid", "base")]


def test_base_failing_with_a_build_arg_is_blamed_on_base_though_labelled_app() -> None:
    progress = read("base_fails_with_arg.log")
    fatal = fatal_failure(progress)
    assert fatal == VertexFailure(
        "ft_app", "RUN sleep 1 && echo failing now && exit 3",
        'process "/bin/sh -c sleep ${SLEEP} && echo failing now && exit 3" did not complete successfully: exit code: 3',
        StagePosition(3, 3))  # base's [3/3], though labelled ft_app
    assert progress.snippet is not None and progress.snippet.file == "Dockerfile"
    assert SourceLine(5, "RUN sleep ${SLEEP} && echo failing now && exit 3", True) in progress.snippet.lines
    assert owner(fatal, progress.snippet, candidates(APP_OK, MID_FIRST, BASE_FAILS)) == ("ft", "base")
    # without BuildKit's source lines, the RUN as written in the error still finds base
    assert owner(fatal, None, candidates(APP_OK, MID_FIRST, BASE_FAILS)) == ("ft", "base")


def test_mid_failing_at_a_line_base_also_has_is_blamed_on_mid() -> None:
    progress = read("mid_fails_same_line_as_base.log")
    fatal = fatal_failure(progress)
    assert fatal is not None and fatal.target == "ft_mid"
    mids = candidates(APP_OK, MID_FAILS, BASE_OK)[1:]
    assert owner(fatal, progress.snippet, mids) == ("ft", "mid")
    built = candidates(APP_OK, MID_FAILS, MID_FAILS, frozenset({"base"}))[1:]  # same text, but base was built
    assert owner(fatal, progress.snippet, built) == ("ft", "mid")


def test_multi_stage_failure_keeps_an_instruction_with_colon_space_whole() -> None:
    progress = read("app_multistage_fails.log")
    fatal = fatal_failure(progress)
    assert fatal is not None and fatal.instruction == 'RUN echo "a: b" && exit 4'
    assert owner(fatal, progress.snippet, candidates(APP_FAILS, MID_OK, BASE_OK, frozenset({"mid", "base"}))) == (
        "ft", "app")
    lines = (LOGS / "app_multistage_fails.log").read_text(encoding="utf-8").splitlines()
    assert instruction_output(lines, fatal.instruction, 5) == ("a: b",)


def test_vertex_events_of_a_good_build() -> None:
    progress = read("app_builds_after_cached_deps.log", ["ft_app"])  # the only stale step
    assert progress.failures == () and progress.snippet is None
    states = {(e.target, e.instruction): e.state for e in progress.events if e.state != "started"}
    assert states[("ft_app", "RUN echo app")] == "done"
    started = [e for e in progress.events if e.state == "started" and e.target is not None]
    assert {e.target for e in started} == {"ft_app"}
    done = [e for e in progress.events if e.state == "done"]
    assert all(e.seconds is not None for e in done)
    assert "ft_app" in progress.durations


@pytest.mark.parametrize("log", sorted(p.name for p in LOGS.glob("*.log")))
def test_every_started_vertex_ends_or_the_bake_failed(log: str) -> None:
    progress = read(log)
    started = {e.vertex for e in progress.events if e.state == "started"}
    ended = {e.vertex for e in progress.events if e.state != "started"}
    assert ended <= started
    assert started - ended == set() or progress.failures


LOG = """\
#8 [demo_base] importing cache manifest from 127.0.0.1:5000/x/demo:cache-base
#8 ERROR: failed to configure registry cache importer: 127.0.0.1:5000/x/demo:cache-base: not found
#13 [demo_base 2/3] COPY hello.txt /hello.txt
#13 DONE 0.1s
#14 [demo_base 3/3] RUN exit 3
#15 [demo_app stage-0 1/2] COPY --from=src . /src
#15 CANCELED
#14 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3
------
ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3
"""


def test_fatal_failure_is_the_one_bake_reports_not_a_cache_miss() -> None:
    progress = parse_lines(LOG.splitlines(), ["demo_base", "demo_app"])
    assert fatal_failure(progress) == VertexFailure(
        "demo_base", "RUN exit 3", 'process "/bin/sh -c exit 3" did not complete successfully: exit code: 3', StagePosition(3, 3))
    assert set(progress.durations) == {"demo_base", "demo_app"}
    assert [e.state for e in progress.events if e.vertex == 15] == ["started", "canceled"]


def test_single_target_vertices_have_no_target_prefix() -> None:
    log = "#5 [stage-0 2/2] RUN false\n#5 ERROR: process \"/bin/sh -c false\" failed\nERROR: failed to solve: x\n"
    progress = parse_lines(log.splitlines(), ["demo_app"])
    assert fatal_failure(progress) == VertexFailure("demo_app", "RUN false", 'process "/bin/sh -c false" failed', StagePosition(2, 2))


def test_single_target_step_counter_without_stage_name() -> None:
    # buildx 0.13 prints "[1/2]" alone when one target has an unnamed single stage.
    log = "#7 [1/2] FROM x\n#8 [2/2] RUN exit 4\n#8 ERROR: process \"/bin/sh -c exit 4\" failed\nERROR: failed to solve: process \"/bin/sh -c exit 4\" failed\n"
    progress = parse_lines(log.splitlines(), ["demo_app"])
    assert fatal_failure(progress) == VertexFailure("demo_app", "RUN exit 4", 'process "/bin/sh -c exit 4" failed', StagePosition(2, 2))
