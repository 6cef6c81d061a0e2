"""Differences between two mappings, key by key: the one walk behind explain's and the lock's diffs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class KeyChange(Generic[K, V]):
    key: K
    kind: Literal["added", "removed", "changed"]
    before: V | None  # None when added
    after: V | None  # None when removed


def key_changes(old: Mapping[K, V], new: Mapping[K, V]) -> Iterator[KeyChange[K, V]]:
    """Every key added, removed or given another value, in sorted key order."""
    for key in sorted(set(old) | set(new)):  # type: ignore[type-var]
        if key not in new:
            yield KeyChange(key, "removed", old[key], None)
        elif key not in old:
            yield KeyChange(key, "added", None, new[key])
        elif old[key] != new[key]:
            yield KeyChange(key, "changed", old[key], new[key])
