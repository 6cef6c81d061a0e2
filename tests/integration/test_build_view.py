"""The live build view on a real pseudo-terminal, read back frame by frame through a VT100 emulator.

Each test runs `slcc build` on the real engine with a pty as its terminal (tests/terminal.py)
and asserts on what a user saw: a row per step, the step that owns each running instruction
(base and app share an identical RUN line), a failure's output inline, no ERROR lines, plain
lines on a dumb terminal, and no terminal library loaded when nothing is stale.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ImageCleanup
from tests.helpers import DEMO_FILES, run_slcc
from tests.integration.conftest import DemoRepoFactory, RepositoryFactory
from tests.terminal import TerminalRun, run_in_terminal

SAME = "RUN echo same-line; sleep 1; echo done > /b"
LOOP = "RUN for i in 1 2 3; do echo app-out $i; sleep 1; done"
TOOL = "RUN echo tool-out; sleep 2"
FILES = {
    # The demo flavor plus a step "tool" on base, and both of base's dependents as goals.
    "flavors/demo/flavor.toml": DEMO_FILES["flavors/demo/flavor.toml"].replace(
        'goals = ["app"]', 'goals = ["app", "tool"]') + '\n[steps.tool]\ndepends = ["base"]\n',
    "flavors/demo/base/Dockerfile": f"ARG BASE\nFROM ${{BASE}}\nCOPY hello.txt /hello.txt\n{SAME}\n",
    "flavors/demo/app/Dockerfile": f"FROM base\nCOPY --from=src . /src\n{SAME}\n{LOOP}\n",
    "flavors/demo/tool/Dockerfile": f"FROM base\n{TOOL}\n",
}
# What each step's row may show while running: its own instructions (FROM expanded by BuildKit).
OWN = {
    "demo/base": ("FROM docker.io/slcc-test/busybox:1", "COPY hello.txt /hello.txt", SAME, "exporting to image"),
    "demo/app": ("COPY --from=src . /src", SAME, LOOP, "exporting to image"),
    "demo/tool": (TOOL, "exporting to image"),
}
ROW = re.compile(r"^\S (?P<step>demo/\w+)\s+(?P<status>waiting|running|done|failed|stopped)\s+(?:[\d.]+s)?\s*(?P<what>.*)$")
COLOR = re.compile(rb"\x1b\[[0-9;]*(?:3[0-9]|9[0-7]|4[0-9])(?:;[0-9;]*)?m")


@pytest.fixture
def repo(demo_repo: DemoRepoFactory) -> Path:
    return demo_repo(FILES, nonce=True)  # a cached RUN never shows as running: every run must execute


@pytest.fixture
def repository(repo: Path, new_repository: RepositoryFactory) -> str:
    return new_repository(clean_up_tags_of=repo)


def terminal_build(repo: Path, repository: str, **env: str) -> TerminalRun:
    environ = {**os.environ, "SLCC_CA_BUNDLE": "none", "TERM": "xterm-256color", "NO_COLOR": "1", **env}
    return run_in_terminal([sys.executable, "-m", "slcc", "build", "demo", "--repository", repository],
                           repo, environ, columns=120, lines=40)


def rows(run: TerminalRun) -> list[dict[str, str]]:
    return [m.groupdict() for frame in run.frames for line in frame if (m := ROW.match(line))]


def owns(step: str, shown: str) -> bool:
    """Whether ``shown`` (maybe cut with an ellipsis) is one of ``step``'s instructions."""
    text = shown.rstrip("…").rstrip()
    return any(own.startswith(text) or text.startswith(own) for own in OWN[step])


def test_every_step_has_a_row_and_each_running_instruction_its_owner(repo: Path, repository: str) -> None:
    run = terminal_build(repo, repository)
    assert run.returncode == 0, run.text()
    seen = rows(run)
    running = [(r["step"], r["what"]) for r in seen if r["status"] == "running"]
    assert {step for step, _ in running} == set(OWN), run.text()
    wrong = [(step, what) for step, what in running if not owns(step, what)]
    assert wrong == [], run.text()
    assert ("demo/app", LOOP) in running and ("demo/tool", TOOL) in running
    assert any(r["step"] == "demo/base" and r["status"] == "done" for r in seen)
    assert not [line for frame in run.frames for line in frame if "ERROR" in line]
    final = "\n".join(run.final)
    assert "STEP" in final and "3 steps: 3 built" in final
    assert not COLOR.search(run.raw)  # NO_COLOR: styles at most, no colours
    # The live header says what is built; no "building N step(s)" line stays above the view.
    assert any(line.startswith("building 3 steps: ") for frame in run.frames for line in frame)
    assert b"step(s)" not in run.raw


def test_a_failing_step_shows_its_instruction_and_output_inline(repo: Path, repository: str) -> None:
    failing = f"FROM base\nCOPY --from=src . /src\n{SAME}\n{LOOP}; echo boom-output; exit 3\n"
    (repo / "flavors/demo/app/Dockerfile").write_text(failing, encoding="utf-8")
    run = terminal_build(repo, repository)
    assert run.returncode == 1, run.text()
    final = "\n".join(line.strip() for line in run.final)
    joined = "".join(line.strip() for line in run.final)  # long lines wrap at the terminal width
    assert "step demo/app failed at `RUN for i in 1 2 3" in joined
    assert "| app-out 3\n| boom-output" in final
    assert "full log: " in joined and "build.log" in joined
    assert final.index("| boom-output") < final.index("slcc: error:")


def test_a_dumb_terminal_gets_plain_lines(repo: Path, repository: str) -> None:
    run = terminal_build(repo, repository, TERM="dumb")
    assert run.returncode == 0, run.text()
    text = run.raw.decode(errors="replace")
    assert f"[demo/app] {LOOP}" in text and f"[demo/tool] {TOOL}" in text
    assert "building 3 step(s): demo/app, demo/base, demo/tool" in text
    assert "\x1b[" not in text  # no cursor movement, no styles


def test_a_no_op_build_on_a_terminal_loads_no_terminal_or_engine_library(repo: Path, repository: str) -> None:
    assert run_slcc(repo, "build", "demo", "--repository", repository).returncode == 0
    script = ("import sys\nfrom slcc.cli import main\n"
              f"main(['build', 'demo', '--repository', {repository!r}], prog_name='slcc')\n"
              "print('LOADED', sorted(m for m in ('rich', 'python_on_whales') if m in sys.modules))\n")
    environ = {**os.environ, "SLCC_CA_BUNDLE": "none", "TERM": "xterm-256color"}
    run = run_in_terminal([sys.executable, "-c", script], repo, environ)
    text = run.raw.decode(errors="replace")
    assert run.returncode == 0, text
    assert "nothing to build" in text
    assert "LOADED []" in text


def test_watch_shows_the_same_view_every_cycle(repo: Path, repository: str) -> None:
    def change_the_source(_: object) -> None:
        (repo / "src/main.txt").write_text("main v2\n", encoding="utf-8")

    def ctrl_c(proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGINT)

    environ = {**os.environ, "SLCC_CA_BUNDLE": "none", "TERM": "xterm-256color"}
    run = run_in_terminal([sys.executable, "-m", "slcc", "watch", "demo", "--repository", repository], repo, environ,
                          columns=120, lines=40, actions=[("[1] initial build", change_the_source),
                                                          ("[2] src/main.txt", ctrl_c)])
    assert run.returncode == 130, run.text()
    first = next(i for i, frame in enumerate(run.frames) if any("[1] initial build" in line for line in frame))
    second = [frame for frame in run.frames[first:] if any(ROW.match(line) for line in frame)]
    assert second, run.text()  # the second cycle drew live rows too
    cycle_two = [m.groupdict() for frame in second for line in frame if (m := ROW.match(line))]
    assert {r["step"] for r in cycle_two if r["status"] == "running"} == {"demo/app"}
    assert any("2 cached" in line and "demo/base" in line for frame in second for line in frame)


def test_ctrl_c_during_the_live_view_gives_the_terminal_back(repo: Path, repository: str) -> None:
    (repo / "flavors/demo/tool/Dockerfile").write_text("FROM base\nRUN sleep 60\n", encoding="utf-8")

    def ctrl_c(proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGINT)

    environ = {**os.environ, "SLCC_CA_BUNDLE": "none", "TERM": "xterm-256color"}
    run = run_in_terminal([sys.executable, "-m", "slcc", "build", "demo", "--repository", repository], repo, environ,
                          columns=120, lines=40, actions=[("RUN sleep 60", ctrl_c)])
    assert run.returncode == 130, run.text()
    assert "slcc: interrupted" in "\n".join(run.final)
    hide, show = b"\x1b[?25l", b"\x1b[?25h"  # rich hides the cursor while it draws
    assert hide in run.raw and run.raw.rindex(show) > run.raw.rindex(hide)


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of a --progress json run's stderr, parsed: a line that is not one object fails."""
    events = []
    for line in stderr.splitlines():
        event = json.loads(line)
        assert isinstance(event, dict) and isinstance(event.get("event"), str), line
        events.append(event)
    return events


def test_json_progress_makes_every_stderr_line_one_event(repo: Path, image_cleanup: ImageCleanup) -> None:
    # A registry that does not answer: the build warns and goes on with the local store.
    repository = f"127.0.0.1:1/slcct{uuid.uuid4().hex[:10]}"
    image_cleanup.add(*(row["tag"] for row in json.loads(run_slcc(repo, "hash", "demo", "--json", "--repository",
                                                                  repository).stdout)))
    built = run_slcc(repo, "build", "demo", "--repository", repository, "--progress", "json", "--json")
    assert built.returncode == 0, built.stderr
    events = json_lines(built.stderr)
    assert events[0]["event"] == "warning" and "127.0.0.1:1" in events[0]["message"]
    assert {"event": "building", "steps": ["demo/app", "demo/base", "demo/tool"]} in events
    assert {e["step"] for e in events if e["event"] == "step" and e["status"] == "done"} == set(OWN)
    report = json.loads(built.stdout)  # --json: the report on stdout, as without json progress
    assert report["ok"] and [s["status"] for s in report["steps"]] == ["built"] * 3

    (repo / "flavors/demo/tool/Dockerfile").write_text(f"FROM base\n{TOOL}; echo tool-boom; exit 3\n",
                                                        encoding="utf-8")
    failed = run_slcc(repo, "build", "demo", "--repository", repository, "--progress", "json")
    assert failed.returncode == 1, failed.stderr
    *event_lines, error = failed.stderr.splitlines()
    assert error.startswith("slcc: error: step demo/tool failed")  # slcc's error line is text in every mode
    events = json_lines("\n".join(event_lines))
    assert [e["event"] for e in events[-3:]] == ["reason", "failure", "summary"]
    assert events[-3]["step"] == "demo/tool" and events[-2]["step"] == "demo/tool"
    assert "tool-boom" in events[-2]["output"]
    assert not events[-1]["ok"] and events[-1]["statuses"] == {"failed": 1, "fresh-local": 2}
    assert "demo/tool  failed" in failed.stdout  # the report table stays on stdout
