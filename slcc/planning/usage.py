"""Disk use per flavor and step, summed from retention Items: pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from slcc.planning.retention import Item

COLUMNS = ("image", "cache", "export")


@dataclass
class Usage:
    group: str  # "flavor/step", or "runs"
    images: int = 0  # how many hash tags
    current: bool = False  # the current tree's image is among them
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))

    @property
    def total(self) -> int:
        return sum(self.bytes.values())

    def as_json(self) -> dict[str, Any]:
        return {"group": self.group, "images": self.images, "current_image": self.current,
                "image_bytes": self.bytes["image"], "cache_bytes": self.bytes["cache"],
                "export_bytes": self.bytes["export"], "total_bytes": self.total}


@dataclass(frozen=True)
class Tally:
    count: int = 0
    bytes: int = 0


def _tally(items: Iterable[Item]) -> Tally:
    items = list(items)
    return Tally(len(items), sum(i.size for i in items))


@dataclass(frozen=True)
class DiskUsage:
    steps: list[Usage]
    runs: Tally
    trash_bytes: int
    checkouts: Tally = Tally()  # git checkouts and fetch caches, shared by flavors

    @property
    def total(self) -> int:
        return sum(u.total for u in self.steps) + self.runs.bytes + self.checkouts.bytes + self.trash_bytes

    def as_json(self) -> dict[str, Any]:
        return {"steps": [u.as_json() for u in self.steps], "runs": self.runs.count, "run_bytes": self.runs.bytes,
                "git_checkouts": self.checkouts.count, "git_bytes": self.checkouts.bytes,
                "trash_bytes": self.trash_bytes, "total_bytes": self.total,
                "note": "image bytes count layers shared between images once per image, as `docker image ls` does"}


def summarise(items: Iterable[Item], trash_bytes: int) -> DiskUsage:
    """Images, cache (materialized contexts included) and exports per "flavor/step"; run folders
    and git checkouts each as one total."""
    usage: dict[str, Usage] = {}
    items = list(items)
    for item in items:
        if item.kind in ("run", "checkout", "registry-image"):
            continue
        row = usage.setdefault(item.group, Usage(item.group))
        row.bytes["cache" if item.kind == "context" else item.kind] += item.size
        if item.kind == "image":
            row.images += 1
            row.current = row.current or item.current
    return DiskUsage(sorted(usage.values(), key=lambda u: u.group), _tally(i for i in items if i.kind == "run"),
                     trash_bytes, _tally(i for i in items if i.kind == "checkout"))
