"""`slcc clean`: remove old hash-tagged images, run folders, exports, local build cache,
materialized contexts and git checkouts.

Holds the build lock, so nothing a running build or watch cycle uses goes. Every removal is
one atomic step (a tag, a manifest, a rename into .slcc/.trash), so an interrupted clean
leaves a consistent store: what is left is either whole or gone, and only tags decide
freshness, so a later build simply rebuilds what it needs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slcc.commands import copies, inventory
from slcc.engine.protocol import Engine, SlccImage
from slcc.errors import InputError
from slcc.loading.project import Hashes, Project
from slcc.planning.retention import Decision, Item, Policy, decide, freed
from slcc.state.store import State

GC_HINT = ("deleted manifests free their space only when the registry collects garbage (CNCF distribution: "
           "`registry garbage-collect CONFIG`, Debian: `docker-registry garbage-collect CONFIG`, "
           "while it is read-only)")


@dataclass(frozen=True)
class CleanOptions:
    flavors: Sequence[str] | None = None  # None: every flavor under the repository
    keep: int | None = None  # None: slcc.toml's [clean] keep (0 when only keep_since is given)
    keep_since: float | None = None  # seconds: keep what is younger
    remove_all: bool = False
    registry: bool = False
    dry_run: bool = False
    cache_budget: int | None = None  # None: slcc.toml's [clean] cache_budget


@dataclass
class CleanReport:
    decisions: list[Decision]
    dry_run: bool
    results: dict[str, str] = field(default_factory=dict)  # name -> removed / in-use / gone
    notes: list[str] = field(default_factory=list)

    @property
    def removed(self) -> list[Decision]:
        return [d for d in self.decisions if d.remove and self.results.get(d.item.name, "removed") == "removed"]

    def as_json(self) -> dict[str, Any]:
        items = [{**d.as_json(), "result": self.results.get(d.item.name)} for d in self.decisions]
        return {"dry_run": self.dry_run, "freed_bytes": freed(self.removed), "notes": self.notes, "items": items}


@dataclass(frozen=True)
class CleanIO:
    echo: Callable[[str], None]
    engine: Engine


def policy_for(project: Project, options: CleanOptions) -> Policy:
    keep = options.keep
    if keep is None:
        keep = 0 if options.keep_since is not None else project.settings.clean_keep
    since = time.time() - options.keep_since if options.keep_since is not None else None
    budget = options.cache_budget if options.cache_budget is not None else project.settings.cache_budget
    return Policy(keep, since, options.remove_all, budget)


def clean(project: Project, options: CleanOptions, io: CleanIO) -> CleanReport:
    if options.registry and project.settings.registry_host is None:
        raise InputError(f"the image repository {project.settings.repository!r} names no registry", "--registry")
    hashes = project.hash_all()
    policy = policy_for(project, options)
    with State(project.settings.state_dir).build_lock(io.echo):
        items, registry_images = _gather(project, options, hashes, io.engine)
        report = CleanReport(_protect_shared_digests(decide(items, policy), registry_images), options.dry_run)
        if options.registry:
            report.notes.append(GC_HINT)
        if not options.dry_run:
            _empty_trash(project.settings.state_dir)
            _execute(project, report, registry_images, io)
    return report


def _gather(project: Project, options: CleanOptions, hashes: Hashes,
            engine: Engine) -> tuple[list[Item], dict[str, SlccImage]]:
    flavors = options.flavors
    items = inventory.local_image_items(project, engine, hashes, flavors)
    items += inventory.state_items(project, hashes, flavors)
    registry: dict[str, SlccImage] = {}
    if options.registry:
        names = list(flavors) if flavors is not None else [f.name for f in project.flavors]
        found = engine.registry_images(project.settings.repository, names)
        registry = {i.tag: i for i in found}
        current = inventory.current_tags(project, hashes)
        items += inventory.image_items(found, project.settings.repository, flavors, current, "registry-image")
    return items, registry


def _protect_shared_digests(decisions: list[Decision], registry: dict[str, SlccImage]) -> list[Decision]:
    """A registry delete is by digest and takes every tag on it: never one a kept tag shares."""
    kept = {registry[d.item.name].digest for d in decisions if d.item.name in registry and not d.remove}
    return [Decision(d.item, False, "shares its manifest with a kept tag")
            if d.remove and d.item.name in registry and registry[d.item.name].digest in kept else d
            for d in decisions]


def _execute(project: Project, report: CleanReport, registry: dict[str, SlccImage], io: CleanIO) -> None:
    doomed = [d.item for d in report.decisions if d.remove]
    trash = project.settings.state_dir / inventory.TRASH
    for number, item in enumerate(doomed, 1):
        io.echo(f"removing {item.kind} {item.name} ({number}/{len(doomed)})")
        if item.kind == "image":
            report.results[item.name] = io.engine.remove_image(item.name)
        elif item.kind == "registry-image":
            report.results[item.name] = "removed" if io.engine.delete_registry_image(registry[item.name]) else "gone"
        else:
            report.results[item.name] = _remove_path(Path(item.name), trash)
    _empty_trash(project.settings.state_dir)


def _remove_path(path: Path, trash: Path) -> str:
    """Move aside in one rename, then delete: an interrupted clean never leaves half a directory."""
    # The checksum (a checkout's tree id) first: an archive (a checkout) without one is not reused.
    first = [path.with_name(path.name + ".sha512sum")] if path.name.endswith(".tar.gz") else copies.companions(path)
    for companion in first:
        with contextlib.suppress(FileNotFoundError):
            companion.unlink()
    trash.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, trash / f"{path.name}-{uuid.uuid4().hex[:8]}")
    except FileNotFoundError:
        return "gone"
    return "removed"


def _empty_trash(state_dir: Path) -> None:
    trash = state_dir / inventory.TRASH
    for entry in trash.iterdir() if trash.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
