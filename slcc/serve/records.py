"""Build records as the queue stores them and the API shows them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
STATUSES: tuple[Status, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
Trigger = Literal["github", "gitlab", "api", "recovery"]

# Column order of the builds table; Build.from_row relies on it.
COLUMNS = ("id", "status", "flavor", "goals", "ref", "commit_sha", "key", "trigger", "delivery", "created",
           "started", "finished", "worker", "pid", "attempts", "reason", "report", "artifacts",
           "cancel_requested")


@dataclass(frozen=True)
class Build:
    id: int
    status: Status
    flavor: str
    goals: tuple[str, ...]
    ref: str
    commit: str
    key: str  # content key: the flavor's goal step hashes; equal keys build the same images
    trigger: str
    delivery: str | None
    created: float
    started: float | None
    finished: float | None
    worker: str | None
    pid: int | None
    attempts: int
    reason: str | None  # why it failed, was cancelled or re-queued
    report: dict[str, Any] | None  # `slcc build --json` report
    artifacts: tuple[str, ...]  # paths relative to the artifact directory
    cancel_requested: bool

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Build:
        data = dict(zip(COLUMNS, row, strict=True))
        return cls(
            id=int(data["id"]), status=data["status"], flavor=data["flavor"],
            goals=tuple(json.loads(data["goals"])), ref=data["ref"], commit=data["commit_sha"], key=data["key"],
            trigger=data["trigger"], delivery=data["delivery"], created=float(data["created"]),
            started=data["started"], finished=data["finished"], worker=data["worker"], pid=data["pid"],
            attempts=int(data["attempts"]), reason=data["reason"],
            report=json.loads(data["report"]) if data["report"] else None,
            artifacts=tuple(json.loads(data["artifacts"] or "[]")), cancel_requested=bool(data["cancel_requested"]),
        )

    def summary(self) -> dict[str, Any]:
        """The fields GET /api/builds lists."""
        return {
            "id": self.id, "status": self.status, "flavor": self.flavor, "goals": list(self.goals),
            "ref": self.ref, "commit": self.commit, "trigger": self.trigger, "created": self.created,
            "started": self.started, "finished": self.finished, "attempts": self.attempts, "reason": self.reason,
        }

    def detail(self) -> dict[str, Any]:
        """The fields GET /api/builds/{id} shows: the summary plus report and artifacts."""
        return {**self.summary(), "key": self.key, "delivery": self.delivery, "worker": self.worker,
                "report": self.report, "artifacts": [f"/artifacts/{a}" for a in self.artifacts],
                "log": f"/api/builds/{self.id}/log"}


@dataclass(frozen=True)
class NewBuild:
    """A build to queue: one flavor at one commit."""

    flavor: str
    goals: tuple[str, ...]
    ref: str
    commit: str
    key: str
    trigger: Trigger
    delivery: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A flavor a push did not queue, and why."""

    flavor: str
    why: str


@dataclass(frozen=True)
class Enqueued:
    """What one delivery or API request did to the queue."""

    queued: tuple[int, ...]
    skipped: tuple[Skipped, ...]
    superseded: tuple[int, ...]
    duplicate_delivery: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"queued": list(self.queued), "superseded": list(self.superseded),
                "skipped": [{"flavor": s.flavor, "why": s.why} for s in self.skipped],
                "duplicate_delivery": self.duplicate_delivery}
