"""Following `docker buildx bake --progress=plain` output line by line.

Plain progress numbers each vertex (``#12 [app 3/3] RUN ...``), prefixes its output with that
number (``#12 0.315 text``) and ends it with ``#12 DONE``, ``#12 CACHED`` or ``#12 ERROR: ...``;
bake's own errors are lines starting with ``ERROR:``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from slcc.progress.records import VertexFailure

VERTEX_LINE = re.compile(r"^#(\d+) \[([^\] ]+)(?: [^\]]*)?\] (.*)$")
VERTEX_ERROR = re.compile(r"^#(\d+) ERROR: (.*)$")
VERTEX_OUTPUT = re.compile(r"^#(\d+) \d+\.\d+ (.*)$")
_STEP_LINE = re.compile(r"^#(\d+) ")


@dataclass(frozen=True)
class BakeProgress:
    """What a finished (or stopped) bake's output said."""

    durations: dict[str, float] = field(default_factory=dict)  # target -> seconds it was active
    failures: tuple[VertexFailure, ...] = ()
    error_lines: tuple[str, ...] = ()  # bake's own ERROR lines


class ProgressParser:
    """Follows plain progress output: per-target activity and failing instructions."""

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = set(targets)
        # With a single target, buildx does not prefix vertex names with the target name.
        self.only = targets[0] if len(targets) == 1 else None
        self.vertex_target: dict[str, tuple[str, str]] = {}
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.failures: list[VertexFailure] = []
        self.error_lines: list[str] = []

    def feed(self, line: str, now: float) -> None:
        if match := VERTEX_LINE.match(line):
            vid, target, instruction = match.groups()
            if target not in self.targets:
                if self.only is None or target == "internal":
                    return
                target = self.only
            self.vertex_target.setdefault(vid, (target, instruction))
        elif match := VERTEX_ERROR.match(line):
            vid, error = match.groups()
            if vid in self.vertex_target:
                target, instruction = self.vertex_target[vid]
                self.failures.append(VertexFailure(target, instruction, error))
        elif line.startswith("ERROR:"):
            self.error_lines.append(line)
        if (match := _STEP_LINE.match(line)) and match.group(1) in self.vertex_target:
            target = self.vertex_target[match.group(1)][0]
            self.first.setdefault(target, now)
            self.last[target] = now

    def result(self) -> BakeProgress:
        durations = {t: round(self.last[t] - self.first[t], 2) for t in self.first}
        return BakeProgress(durations, tuple(self.failures), tuple(self.error_lines))


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
