"""Git-sourced mappings resolved for a scope: which commit, and the directory the build sees.

local: the working tree (``path``, or the repository itself when ``git`` is a local path),
hashed file by file like any mapping; main: the branch head; tag: the tag; rel: the commit in
slcc.lock. A resolved commit is checked out once under ``<state dir>/git/<commit>/`` and hashed
by its tree id, so no file walk is needed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from slcc.engine.protocol import Engine
from slcc.errors import InputError
from slcc.loading.lockfile import Lock, LockedSource
from slcc.model import Flavor, GitPin, GitSource
from slcc.vocabulary import Scope


def lock_ref(source: GitSource) -> tuple[str, str]:
    """What `slcc lock` pins: the tag when the flavor names one, else the branch head."""
    return ("tag", source.tag) if source.tag else ("branch", source.branch)


def pin(source: GitSource, kind: str, name: str, engine: Engine, cache: Path) -> tuple[Path, GitPin]:
    commit = engine.git_commit(source.git, kind, name)
    directory, tree = engine.git_checkout(source.git, commit, cache)
    return directory, GitPin(f"{kind}:{name}", commit, tree)


def _locked(flavor: Flavor, name: str, source: GitSource, lock: Lock | None, lock_path: Path) -> LockedSource:
    entry = lock.sources.get((flavor.name, name)) if lock else None
    if entry is None:
        raise InputError(f"does not pin mapping {flavor.name}/{name} (scope rel builds only what the lock "
                         "covers; run `slcc lock`)", lock_path)
    if entry.git != source.git:
        raise InputError(f"pins mapping {flavor.name}/{name} from {entry.git}, but the flavor names {source.git} "
                         "(run `slcc lock --update`)", lock_path)
    return entry


def _one(flavor: Flavor, name: str, source: GitSource, scope: Scope, lock: Lock | None, lock_path: Path,
         engine: Engine, cache: Path) -> tuple[Path, GitPin | None]:
    if scope == "local":
        worktree = source.path or (Path(source.git) if source.local else None)
        if worktree is not None:
            if not worktree.is_dir():
                raise InputError(f"working tree {worktree} of mapping {name!r} is not a directory", flavor.toml_path)
            return worktree, None
        scope = "main"  # a URL without a working tree: its branch head is the closest thing
    if scope == "rel":
        entry = _locked(flavor, name, source, lock, lock_path)
        directory, tree = engine.git_checkout(source.git, entry.commit, cache)
        return directory, GitPin(entry.ref, entry.commit, tree)
    if scope == "tag" and not source.tag:
        raise InputError(f"mapping {name!r} names no tag, which scope tag needs", flavor.toml_path)
    kind, ref = ("tag", str(source.tag)) if scope == "tag" else ("branch", source.branch)
    return pin(source, kind, ref, engine, cache)


def resolve(flavor: Flavor, scope: Scope, lock: Lock | None, lock_path: Path, engine: Engine, cache: Path) -> Flavor:
    """``flavor`` with a directory for every git-sourced mapping, and pins for those from commits."""
    if not flavor.sources:
        return flavor
    mappings, pins = dict(flavor.mappings), {}
    for name, source in flavor.sources.items():
        directory, found = _one(flavor, name, source, scope, lock, lock_path, engine, cache)
        mappings[name] = directory
        if found is not None:
            pins[name] = found
    return replace(flavor, mappings=dict(sorted(mappings.items())), pins=pins)
