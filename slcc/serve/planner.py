"""Which flavors a commit holds and their content keys (the hashes of their goal steps).

Hashing needs the files, so one planning work tree is checked out at the pushed commit (git
updates only what differs; the stat cache under the serve state keeps rehashing cheap). Keys
are cached by git tree id: two commits with the same tree hold the same flavors.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import blake3

from slcc.commands.pins import attach
from slcc.engine.docker import DockerEngine
from slcc.errors import InputError, SlccError
from slcc.loading.project import open_project
from slcc.serve.mirror import Mirror


@dataclass(frozen=True)
class FlavorKey:
    flavor: str
    goals: tuple[str, ...]
    key: str


def content_key(repository: str, flavor: str, goals: Sequence[str], digests: Mapping[str, str]) -> str:
    """One key for a flavor's goals: equal keys mean the same goal images (hashes chain dependencies)."""
    text = "\n".join([repository, flavor, *(f"{g}={digests[g]}" for g in goals)])
    return str(blake3.blake3(text.encode()).hexdigest()[:32])


class Planner:
    def __init__(self, mirror: Mirror, directory: Path, overrides: Mapping[str, str | None]) -> None:
        self.mirror = mirror
        self.tree_dir = directory / "plan"
        self.overrides = {**overrides, "state_dir": str(directory / "plan-state")}
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[FlavorKey, ...]] = {}

    def keys(self, commit: str, flavors: Sequence[str] = (), goals: Sequence[str] = ()) -> tuple[FlavorKey, ...]:
        """Keys of ``flavors`` (default: every flavor) at ``commit``; InputError when the flavors are broken."""
        cache_key = (self.mirror.tree(commit), tuple(flavors), tuple(goals))
        with self._lock:
            if cache_key not in self._cache:
                self._cache[cache_key] = self._compute(commit, flavors, goals)
            return self._cache[cache_key]

    def _compute(self, commit: str, flavors: Sequence[str], goals: Sequence[str]) -> tuple[FlavorKey, ...]:
        self.mirror.checkout(self.tree_dir, commit)
        try:
            project = open_project(self.tree_dir, flavors, self.overrides)
            # Image digests are part of the content key: from the commit's slcc.lock, else the engine.
            attach(project, DockerEngine(), lambda _message: None)
            hashes = project.hash_all()
            wanted = project.goals(goals)
        except SlccError as exc:
            raise InputError(f"flavors at {commit[:12]}: {str(exc).replace(str(self.tree_dir) + '/', '')}") from None
        return tuple(
            FlavorKey(f.name, wanted[f.name], content_key(project.settings.repository, f.name, wanted[f.name],
                                                           {s: h.digest for s, h in hashes[f.name].items()}))
            for f in project.flavors if f.name in wanted
        )
