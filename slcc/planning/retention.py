"""What `slcc clean` keeps and what it removes: pure, given what exists and the policy.

An item is kept when any rule keeps it (unless --all): the current tree needs it, it is one
of the last N of its group (the current one counted first; a step's images, exports or
materialized contexts, the run folders, the git checkouts), or it is newer than --keep-since.
Local build-cache directories are kept within a size budget instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["image", "registry-image", "export", "run", "cache", "context", "checkout"]


@dataclass(frozen=True)
class Item:
    kind: Kind
    group: str  # what --keep counts within: "flavor/step" for images, exports and contexts, "runs" for runs
    name: str  # a tag or a path
    created: float  # seconds since the epoch (for caches: the last time a build wrote them)
    size: int
    current: bool  # the current tree's hashes need it


@dataclass(frozen=True)
class Policy:
    keep: int  # the last N of each group
    keep_since: float | None = None  # seconds since the epoch: anything newer is kept
    remove_all: bool = False  # current items too
    cache_budget: int | None = None  # bytes of local build cache to keep; None: keep all


@dataclass(frozen=True)
class Decision:
    item: Item
    remove: bool
    reason: str

    def as_json(self) -> dict[str, Any]:
        item = self.item
        return {"kind": item.kind, "group": item.group, "name": item.name, "created": item.created,
                "size": item.size, "current": item.current, "remove": self.remove, "reason": self.reason}


def decide(items: Iterable[Item], policy: Policy) -> list[Decision]:
    """One decision per item (caches by budget, the rest by age), in a stable order."""
    items = list(items)
    caches = [i for i in items if i.kind == "cache"]
    others = [i for i in items if i.kind != "cache"]
    return _by_age(others, policy) + _by_budget(caches, policy)


def _by_age(items: Sequence[Item], policy: Policy) -> list[Decision]:
    groups: dict[tuple[Kind, str], list[Item]] = {}
    for item in items:
        groups.setdefault((item.kind, item.group), []).append(item)
    decisions: list[Decision] = []
    for key in sorted(groups):
        # The current item counts first: creation times have one-second resolution, and a
        # tie must never keep an older image in place of the current one.
        newest_first = sorted(groups[key], key=lambda i: (not i.current, -i.created, i.name))
        for rank, item in enumerate(newest_first):
            decisions.append(Decision(item, *_age_rule(item, rank, policy)))
    return decisions


def _age_rule(item: Item, rank: int, policy: Policy) -> tuple[bool, str]:
    if policy.remove_all:
        return True, "--all"
    if item.current:
        return False, "the current tree needs it"
    if rank < policy.keep:
        return False, f"one of the last {policy.keep} of {item.group}"
    if policy.keep_since is not None and item.created >= policy.keep_since:
        return False, "newer than --keep-since"
    return True, f"older than the last {policy.keep} of {item.group}"


def _by_budget(caches: Sequence[Item], policy: Policy) -> list[Decision]:
    """Least recently written first (current steps' caches last) until the rest fits the budget."""
    if policy.remove_all:
        return [Decision(c, True, "--all") for c in sorted(caches, key=lambda c: c.name)]
    total = sum(c.size for c in caches)
    decisions = []
    for cache in sorted(caches, key=lambda c: (c.current, c.created, c.name)):
        if policy.cache_budget is not None and total > policy.cache_budget:
            total -= cache.size
            decisions.append(Decision(cache, True, "local build cache over the budget"))
        else:
            decisions.append(Decision(cache, False, "within the local build-cache budget"))
    return sorted(decisions, key=lambda d: d.item.name)


def freed(decisions: Iterable[Decision]) -> int:
    return sum(d.item.size for d in decisions if d.remove)
