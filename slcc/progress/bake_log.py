"""Following `docker buildx bake --progress=plain` output line by line.

Plain progress numbers each vertex (``#12 [app 3/3] RUN ...``), prefixes its output with that
number and a timestamp (``#12 0.315 text``) and ends it with ``#12 DONE 0.4s``, ``#12 CACHED``,
``#12 CANCELED`` or ``#12 ERROR: ...``; bake's own errors are lines starting with ``ERROR:``, and
a failed solve prints the failing Dockerfile lines (``Dockerfile:5``, a dashed frame, ``5 | >>> RUN``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slcc.progress.records import (
    SourceLine,
    SourceSnippet,
    StagePosition,
    VertexEvent,
    VertexFailure,
    VertexState,
)

if TYPE_CHECKING:  # bake-time only: the no-op path loads this module, never the timings
    from slcc.progress.timings import BuildkitTime

VERTEX_LINE = re.compile(r"^#(\d+) \[([^\] ]+)(?: [^\]]*)?\] (.*)$")
VERTEX_ERROR = re.compile(r"^#(\d+) ERROR: (.*)$")
VERTEX_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
_VERTEX_END = re.compile(r"^#(\d+) (DONE|CACHED|CANCELED)(?: ([\d.]+)s)?$")
_STEP_LINE = re.compile(r"^#(\d+) ")
_POSITION = re.compile(r"^#\d+ \[(?:[^\]]* )?(\d+)/(\d+)\] ")  # [target stage N/M]
# containerd's content store retrying concurrent writes of one layer (moby/buildkit#3027): it
# reads as an error, but the write is retried and the build succeeds.
_BENIGN_RETRY = re.compile(r"\(\*service\)\.Write failed: rpc error: code = Unavailable desc = ref "
                           r"\S*layer-sha256:[0-9a-f]+ locked")
_SNIPPET_HEAD = re.compile(r"^(\S+):(\d+)$")
_SNIPPET_LINE = re.compile(r"^\s*(\d+) \| (>>> |    )?(.*)$")
_FRAME = "--------------------"
_END_STATES: dict[str, VertexState] = {"DONE": "done", "CACHED": "cached", "CANCELED": "canceled"}


@dataclass(frozen=True)
class BakeProgress:
    """What a finished (or stopped) bake's output said."""

    durations: dict[str, float] = field(default_factory=dict)  # target -> seconds it was active
    failures: tuple[VertexFailure, ...] = ()
    error_lines: tuple[str, ...] = ()  # bake's own ERROR lines
    events: tuple[VertexEvent, ...] = ()
    snippet: SourceSnippet | None = None  # the failing Dockerfile lines, when BuildKit printed them
    buildkit: BuildkitTime | None = None  # BuildKit's own time, per step (set by the build, which knows the steps)


def is_benign(line: str) -> bool:
    """Engine noise that reads like an error but is none: kept in the log, never shown or counted."""
    return _BENIGN_RETRY.search(line) is not None


class ProgressParser:
    """Follows plain progress output: vertex events, per-target activity, failing instructions."""

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = set(targets)
        # With a single target, buildx does not prefix vertex names with the target name.
        self.only = targets[0] if len(targets) == 1 else None
        self.vertices: dict[str, tuple[str | None, str]] = {}  # id -> (target, instruction)
        self.positions: dict[str, StagePosition] = {}  # id -> N/M of its label
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.failures: list[VertexFailure] = []
        self.error_lines: list[str] = []
        self.events: list[VertexEvent] = []
        self._snippet = _SnippetReader()

    def feed(self, line: str, now: float) -> None:
        if is_benign(line):
            return
        self._snippet.feed(line)
        if match := VERTEX_LINE.match(line):
            if (at := _POSITION.match(line)) and match.group(1) not in self.vertices:
                self.positions[match.group(1)] = StagePosition(int(at.group(1)), int(at.group(2)))
            self._started(match.group(1), match.group(2), match.group(3), now)
        elif match := VERTEX_ERROR.match(line):
            self._ended(match.group(1), "failed", now, error=match.group(2))
        elif match := _VERTEX_END.match(line):
            seconds = float(match.group(3)) if match.group(3) else None
            self._ended(match.group(1), _END_STATES[match.group(2)], now, seconds)
        elif line.startswith("ERROR:"):
            self.error_lines.append(line)
        if (match := _STEP_LINE.match(line)) and (target := self.vertices.get(match.group(1), (None, ""))[0]):
            self.first.setdefault(target, now)
            self.last[target] = now

    def _started(self, vid: str, label: str, instruction: str, now: float) -> None:
        target: str | None = label
        if label not in self.targets:
            target = self.only if self.only is not None and label != "internal" else None
        if vid not in self.vertices:
            self.vertices[vid] = (target, instruction)
            self.events.append(VertexEvent(int(vid), "started", target, instruction, now,
                                           position=self.positions.get(vid)))

    def _ended(self, vid: str, state: VertexState, now: float, seconds: float | None = None,
               error: str | None = None) -> None:
        if vid not in self.vertices:
            return
        target, instruction = self.vertices[vid]
        position = self.positions.get(vid)
        self.events.append(VertexEvent(int(vid), state, target, instruction, now, seconds, error, position))
        if state == "failed" and target is not None and error is not None:
            self.failures.append(VertexFailure(target, instruction, error, position))

    def result(self) -> BakeProgress:
        durations = {t: round(self.last[t] - self.first[t], 2) for t in self.first}
        return BakeProgress(durations, tuple(self.failures), tuple(self.error_lines), tuple(self.events),
                            self._snippet.snippet)


class _SnippetReader:
    """Collects the last ``File:N`` + framed numbered lines block of the output."""

    def __init__(self) -> None:
        self.snippet: SourceSnippet | None = None
        self._file: str | None = None
        self._frames = 0
        self._lines: list[SourceLine] = []

    def feed(self, line: str) -> None:
        if self._file is None:
            if match := _SNIPPET_HEAD.match(line):
                self._file, self._frames, self._lines = match.group(1), 0, []
            return
        if line == _FRAME:
            self._frames += 1
            if self._frames == 2:
                self.snippet = SourceSnippet(self._file, tuple(self._lines))
                self._file = None
        elif self._frames == 1 and (match := _SNIPPET_LINE.match(line)):
            self._lines.append(SourceLine(int(match.group(1)), match.group(3), match.group(2) == ">>> "))
        else:
            self._file = None  # not a snippet after all


def fatal_failure(progress: BakeProgress) -> VertexFailure | None:
    """The vertex failure that failed the bake.

    Vertex errors also include harmless ones (a cache to import that does not exist yet) and
    the cancellations that follow a failure; the fatal one is what bake's last ERROR line says.
    """
    final = progress.error_lines[-1] if progress.error_lines else ""
    for failure in progress.failures:
        if failure.error and failure.error in final:
            return failure
    return next((f for f in progress.failures if not f.harmless), None)


def parse_lines(lines: Iterable[str], targets: Sequence[str]) -> BakeProgress:
    """A whole log at once (tests, and reading a run's build.log again)."""
    parser = ProgressParser(targets)
    for i, line in enumerate(lines):
        parser.feed(line, float(i))
    return parser.result()


def instruction_output(lines: Iterable[str], instruction: str, tail: int) -> tuple[str, ...]:
    """The last ``tail`` lines the vertices running ``instruction`` printed."""
    wanted: set[str] = set()
    output: list[str] = []
    for line in lines:
        if (head := VERTEX_LINE.match(line)) and head.group(3) == instruction:
            wanted.add(head.group(1))
        elif (out := VERTEX_OUTPUT.match(line)) and out.group(1) in wanted:
            output.append(out.group(2))
    return tuple(output[-tail:])
