"""Frozen records of what a bake reported about its vertices (BuildKit's build steps)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

VertexState = Literal["started", "done", "cached", "failed", "canceled"]


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


@dataclass(frozen=True)
class VertexFailure:
    """A vertex that ended in ERROR: the bake target it is labelled with, its instruction, the error."""

    target: str
    instruction: str
    error: str

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

    @property
    def key(self) -> tuple[str, str]:
        return (self.flavor, self.step)

    def summary(self) -> str:
        return f"{self.instruction}: {self.error}"

    def as_json(self) -> dict[str, str]:
        return {"instruction": self.instruction, "error": self.error}
