"""Step rows of a running bake: who runs what, since when, and how it ended.

Built on the vertex events of ProgressParser. A vertex belongs to the step
``attribution.vertex_owner`` names (never simply to buildx's label). A step runs from its first
instruction, is done when its image is exported (cached when every instruction came from
BuildKit's cache) and failed when one of its instructions failed. The benign containerd
retries never reach the parser's events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from slcc.progress.attribution import Candidate, vertex_owner
from slcc.progress.bake_log import VERTEX_OUTPUT, ProgressParser
from slcc.progress.records import StepEvent, StepRow, StepState, VertexEvent, VertexFailure


class ProgressView(Protocol):
    """Where a build's step events go: a live terminal view, plain lines, JSON lines."""

    def begin(self, steps: Sequence[str]) -> None:
        """The bake starts building these steps (flavor/step)."""

    def show(self, event: StepEvent) -> None: ...

    def close(self) -> None: ...


class BuildTracker:
    """Follows one bake; ``start``, ``feed`` and ``finish`` return the events a view shows.

    ``candidates`` maps each bake target to the steps that may own its vertices: its own step
    first, then its stale dependencies, nearest first (as for a failure).
    """

    def __init__(self, rows: Sequence[StepRow], candidates: Mapping[str, Sequence[Candidate]],
                 targets: Sequence[str], origin: float) -> None:
        self.rows = {row.step: row for row in rows}
        self.candidates = candidates
        self.parser = ProgressParser(targets)
        self.origin = origin  # monotonic time the bake started
        self._read = 0  # parser events handled so far
        self._owners: dict[int, str] = {}  # vertex -> flavor/step
        self._instructions: dict[str, set[int]] = {}  # step -> its instruction vertices
        self._cached: set[int] = set()

    def start(self) -> list[StepEvent]:
        """Every row as it starts: waiting, or cached for steps that are fresh."""
        return [StepEvent(row, 0.0) for row in self.rows.values()]

    def snapshot(self) -> tuple[StepRow, ...]:
        return tuple(self.rows.values())

    @property
    def owners(self) -> dict[int, str]:
        """Vertex -> the flavor/step that owns it, for the vertices seen so far."""
        return dict(self._owners)

    def feed(self, line: str, now: float) -> list[StepEvent]:
        self.parser.feed(line, now)
        events: list[StepEvent] = []
        for vertex in self.parser.events[self._read:]:
            events += self._vertex(vertex, vertex.at - self.origin)
        self._read = len(self.parser.events)
        if (out := VERTEX_OUTPUT.match(line)) and (step := self._owners.get(int(out.group(1)))):
            events.append(StepEvent(self.rows[step], now - self.origin, out.group(2)))
        return events

    def finish(self, ok: bool, now: float) -> list[StepEvent]:
        """Rows the output left open: done after a successful bake, stopped after a failed one."""
        at = now - self.origin
        events: list[StepEvent] = []
        for row in list(self.rows.values()):
            if row.status == "running" or (ok and row.status == "waiting"):
                status: StepState = self._finished(row.step) if ok else "stopped"
                events += self._set(replace(row, status=status, ended=at), at)
        return events

    def _vertex(self, vertex: VertexEvent, at: float) -> list[StepEvent]:
        if vertex.state == "started":
            step = self._owner(vertex)
            if step is None:
                return []
            self._owners[vertex.vertex] = step
            return self._started(self.rows[step], vertex, at)
        step = self._owners.get(vertex.vertex)
        if step is None:
            return []
        row = self.rows[step]
        if vertex.state == "cached":
            self._cached.add(vertex.vertex)
        if vertex.state == "failed" and not VertexFailure("", "", vertex.error or "").harmless:
            return self._set(replace(row, status="failed", instruction=vertex.instruction, ended=at), at)
        if vertex.state in ("done", "cached") and _is_export(vertex) and row.status == "running":
            return self._set(replace(row, status=self._finished(step), ended=at), at)
        return []

    def _owner(self, vertex: VertexEvent) -> str | None:
        candidates = self.candidates.get(vertex.target or "")
        if not candidates or (vertex.position is None and not _is_export(vertex)):
            return None  # bake's own work: loading definitions and contexts, exporting caches
        key = vertex_owner(vertex.instruction, vertex.position, candidates) if vertex.position else candidates[0].key
        step = f"{key[0]}/{key[1]}"
        return step if step in self.rows else None

    def _started(self, row: StepRow, vertex: VertexEvent, at: float) -> list[StepEvent]:
        if vertex.position is not None:
            self._instructions.setdefault(row.step, set()).add(vertex.vertex)
        if row.status == "waiting":
            return self._set(replace(row, status="running", started=at, instruction=vertex.instruction), at)
        if row.status == "running":
            return self._set(replace(row, instruction=vertex.instruction), at)
        return []

    def _finished(self, step: str) -> StepState:
        vertices = self._instructions.get(step, set())
        return "cached" if vertices and vertices <= self._cached else "done"

    def _set(self, row: StepRow, at: float) -> list[StepEvent]:
        self.rows[row.step] = row
        return [StepEvent(row, at)]


def _is_export(vertex: VertexEvent) -> bool:
    return vertex.instruction.startswith("exporting to image")
