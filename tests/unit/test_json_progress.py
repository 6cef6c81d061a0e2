"""`--progress json`: every line of stderr is one JSON object whose "event" says what it is.

The views and the CLI's stderr (warnings, messages, reasons, failures, the summary, the error)
are checked here line by line; tests/integration/test_build_view.py parses a real build's stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from slcc import cli
from slcc.output.build_view import make_view
from slcc.output.diagnostics import JsonDiagnostics, Summary, TextDiagnostics
from slcc.progress.printer import JsonView, LinesView, QuietView
from slcc.progress.records import StepEvent, StepFailure, StepRow
from tests.helpers import make_repo

FAILURE = StepFailure("demo", "app", "RUN false", "exit code: 1", ("out 1", "out 2"))
SUMMARY = Summary(False, {"built": 1, "failed": 1}, 2.5, "local", True, "/r/build.log", "boom")


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    objects = [json.loads(line) for line in lines]
    assert all(isinstance(o, dict) and "event" in o for o in objects), lines
    return objects


def test_the_json_view_announces_the_bake_then_one_step_event_per_change() -> None:
    lines: list[str] = []
    view = JsonView(lines.append)
    view.begin(["demo/app", "demo/base"])
    view.show(StepEvent(StepRow("demo/base", "running", "RUN true", 0.5), 1.0))
    view.show(StepEvent(StepRow("demo/base", "running", "RUN true", 0.5), 1.2, output="hi"))
    events = parsed(lines)
    assert events[0] == {"event": "building", "steps": ["demo/app", "demo/base"]}
    assert [e["event"] for e in events[1:]] == ["step", "step"]
    assert events[1]["step"] == "demo/base" and events[1]["status"] == "running" and events[2]["output"] == "hi"


@pytest.mark.parametrize("view", ["plain", "quiet"])
def test_plain_and_quiet_progress_print_the_building_line(view: str) -> None:
    lines: list[str] = []
    made = LinesView(lines.append, output=True) if view == "plain" else QuietView(lines.append)
    made.begin(["demo/app", "demo/base"])
    assert lines == ["building 2 step(s): demo/app, demo/base"]


class Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_json_progress_writes_to_the_terminal_stream_not_through_echo() -> None:
    """echo wraps its text as a message event: the view's own events must not be wrapped again."""
    stream, echoed = Stream(), list[str]()
    view = make_view("json", echoed.append, stream)  # type: ignore[arg-type]
    view.begin(["demo/app"])
    assert echoed == [] and json.loads(stream.text) == {"event": "building", "steps": ["demo/app"]}


def test_json_diagnostics_are_one_typed_object_per_line() -> None:
    lines: list[str] = []
    out = JsonDiagnostics(lines.append)
    out.warning("registry down")
    out.message("pulling r/demo:app-1")
    out.reasons("demo/app", ("file a changed", "arg X changed"))
    out.failure(FAILURE)
    out.summary(SUMMARY)
    out.error("--from: unknown step 'x'", 2)
    assert lines.pop() == "slcc: error: --from: unknown step 'x'"  # the error line stays text
    assert parsed(lines) == [
        {"event": "warning", "message": "registry down"},
        {"event": "message", "message": "pulling r/demo:app-1"},
        {"event": "reason", "step": "demo/app", "why": ["file a changed", "arg X changed"]},
        {"event": "failure", "step": "demo/app", "instruction": "RUN false", "error": "exit code: 1",
         "output": ["out 1", "out 2"]},
        {"event": "summary", "ok": False, "steps": 2, "statuses": {"built": 1, "failed": 1}, "seconds": 2.5,
         "scope": "local", "baked": True, "log": "/r/build.log", "error": "boom"},
    ]


def test_text_diagnostics_are_the_lines_people_read() -> None:
    lines: list[str] = []
    out = TextDiagnostics(lines.append)
    out.warning("registry down")
    out.reasons("demo/app", ("a", "b"))
    out.failure(FAILURE)
    out.summary(SUMMARY)  # the summary is the report table's last line, on stdout
    out.error("interrupted", 130)
    out.error("--from: unknown step 'x'", 2)
    assert lines == ["slcc: warning: registry down", "  demo/app: a; b", "\nstep demo/app failed at `RUN false`",
                     "  | out 1", "  | out 2", "  exit code: 1", "slcc: interrupted",
                     "slcc: error: --from: unknown step 'x'"]


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as exited:
        cli.main(args, prog_name="slcc")
    code = exited.value.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err.splitlines()


def test_bad_input_under_json_progress_is_the_one_error_line_and_the_next_run_is_text_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = make_repo(tmp_path / "repo")
    args = ["-C", str(repo), "build", "demo", "--from", "nosuch", "--ca-bundle", "none"]
    code, lines = run_cli([*args, "--progress", "json"], capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("slcc: error: --from: unknown step 'nosuch'")
    code, lines = run_cli(args, capsys)  # the json choice lasts one invocation
    assert code == 2 and len(lines) == 1 and lines[0].startswith("slcc: error: --from: unknown step 'nosuch'")
    assert not (repo / ".slcc" / "runs").exists()
