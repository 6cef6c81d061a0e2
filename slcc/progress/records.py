"""Frozen records of what a bake reported about its vertices (BuildKit's build steps)."""

from __future__ import annotations

from dataclasses import dataclass


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
