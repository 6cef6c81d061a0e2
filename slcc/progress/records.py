"""Frozen records of what a bake reported about its vertices (BuildKit's build steps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

VertexState = Literal["started", "done", "cached", "failed", "canceled"]


@dataclass(frozen=True)
class StagePosition:
    """``N/M`` of a vertex label ``[target stage N/M]``: which numbered instruction of its stage it is.

    BuildKit numbers FROM, RUN, COPY, ADD and WORKDIR; M counts them all, N starts at 1 with
    FROM, or at the first instruction after FROM when FROM names a context or an earlier stage.
    """

    index: int
    size: int


@dataclass(frozen=True)
class VertexEvent:
    """A vertex changed state: ``#12 [app 3/3] RUN ...`` started it, ``#12 DONE 0.4s`` ended it.

    ``target`` is the bake target buildx labelled the vertex with (None for its own internal
    work); a vertex shared by several targets carries any one of their names.
    """

    vertex: int
    state: VertexState
    target: str | None
    instruction: str
    at: float  # when slcc read the line (monotonic seconds)
    seconds: float | None = None  # BuildKit's own duration, from DONE
    error: str | None = None
    position: StagePosition | None = None  # set for Dockerfile instructions only


@dataclass(frozen=True)
class VertexFailure:
    """A vertex that ended in ERROR: the bake target it is labelled with, its instruction, the error."""

    target: str
    instruction: str
    error: str
    position: StagePosition | None = None  # its ``[stage N/M]``, for attribution

    @property
    def harmless(self) -> bool:
        """Cancellations that follow a failure and a registry cache that does not exist yet."""
        error = self.error.lower()
        return "cancel" in error or "cache importer" in error or "cache import" in error


@dataclass(frozen=True)
class SourceLine:
    number: int
    text: str
    failing: bool  # marked ``>>>`` by BuildKit


@dataclass(frozen=True)
class SourceSnippet:
    """The Dockerfile lines BuildKit prints under a failed solve (``Dockerfile:5`` and a frame).

    They are the failing instruction as written in its Dockerfile (build args unexpanded), with
    line numbers: what attributes a failure to the step whose Dockerfile it is.
    """

    file: str
    lines: tuple[SourceLine, ...]


@dataclass(frozen=True)
class StepFailure:
    """The flavor step blamed for a failed bake: the instruction that failed and BuildKit's error."""

    flavor: str
    step: str
    instruction: str
    error: str
    output: tuple[str, ...] = ()  # the failing instruction's last output lines

    @property
    def key(self) -> tuple[str, str]:
        return (self.flavor, self.step)

    def summary(self) -> str:
        return f"{self.instruction}: {self.error}"

    def as_json(self) -> dict[str, Any]:
        return {"instruction": self.instruction, "error": self.error, "output": list(self.output)}


StepState = Literal["waiting", "cached", "running", "done", "failed", "stopped"]


@dataclass(frozen=True)
class StepRow:
    """One step's row in a build view: status, since when, and the instruction it runs."""

    step: str  # flavor/step
    status: StepState
    instruction: str = ""
    started: float | None = None  # seconds after the bake started
    ended: float | None = None

    def elapsed(self, now: float) -> float | None:
        """Seconds it ran (until ``now`` while it runs); None when it never ran."""
        if self.started is None:
            return None
        return max(0.0, (self.ended if self.ended is not None else now) - self.started)


@dataclass(frozen=True)
class StepEvent:
    """What a build view shows: a step's new status or instruction, or a line of its output."""

    row: StepRow
    at: float  # seconds after the bake started
    output: str | None = None

    def as_json(self) -> dict[str, Any]:
        row = self.row
        data: dict[str, Any] = {"step": row.step, "status": row.status, "instruction": row.instruction or None,
                                "time": round(self.at, 3), "started": _rounded(row.started),
                                "elapsed": _rounded(row.elapsed(self.at))}
        if self.output is not None:
            data["output"] = self.output
        return data


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
