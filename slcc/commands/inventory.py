"""What slcc has left on this machine (and in the registry), as retention Items.

Shared by `slcc clean` (which decides what goes) and `slcc du` (which only counts). Images
are found by slcc's labels through the engine; run folders, exported archives, local
build-cache directories and the copies of slcc/commands/copies.py under the state directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from slcc.commands import copies
from slcc.engine.protocol import Engine, SlccImage
from slcc.loading.project import Hashes, Project
from slcc.planning.retention import Item, Kind
from slcc.state.disk import tree_size

_EXPORT = re.compile(r"^(?P<group>.+)-(?P<short>[0-9a-f]{32})\.tar\.gz$")
TRASH = ".trash"  # what a clean moved aside and has not finished deleting


def _mtime(path: Path) -> float:
    """The newest modification time under ``path`` (a build writes into its cache directory)."""
    newest = path.stat().st_mtime
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return newest


def current_tags(project: Project, hashes: Hashes) -> set[str]:
    repository = project.settings.repository
    return {h.tag(repository) for steps in hashes.values() for h in steps.values()}


def image_items(images: Sequence[SlccImage], repository: str, flavors: Sequence[str] | None,
                current: set[str], kind: Kind = "image") -> list[Item]:
    """The images under ``repository`` (of ``flavors`` when given) as Items."""
    # Image names are the lower-cased flavor names (a flavor name may have upper case).
    chosen = [i for i in images if i.tag.rpartition(":")[0] == f"{repository}/{i.flavor.lower()}"
              and (flavors is None or i.flavor in flavors)]
    return [Item(kind, f"{i.flavor}/{i.step}", i.tag, i.created, i.size, i.tag in current) for i in chosen]


def local_image_items(project: Project, engine: Engine, hashes: Hashes, flavors: Sequence[str] | None) -> list[Item]:
    return image_items(engine.slcc_images(), project.settings.repository, flavors, current_tags(project, hashes))


def state_items(project: Project, hashes: Hashes, flavors: Sequence[str] | None) -> list[Item]:
    """Run folders, exported archives, local build cache, materialized contexts and git checkouts."""
    state = project.settings.state_dir
    return [*_runs(state), *_exports(state, hashes, flavors), *_caches(state, hashes, flavors),
            *copies.context_items(project, hashes, flavors), *copies.git_items(project, flavors)]


def _runs(state: Path) -> Iterator[Item]:
    runs = state / "runs"
    for run in sorted(runs.iterdir()) if runs.is_dir() else []:
        if run.is_dir() and not run.is_symlink():
            yield Item("run", "runs", str(run), run.stat().st_mtime, tree_size(run), False)


def _exports(state: Path, hashes: Hashes, flavors: Sequence[str] | None) -> Iterator[Item]:
    exports = state / "export"
    current = {f"{f}-{s}-{h.short}.tar.gz" for f, steps in hashes.items() for s, h in steps.items()}
    prefixes = tuple(f"{f}-" for f in flavors) if flavors is not None else ("",)
    for archive in sorted(exports.glob("*.tar.gz")) if exports.is_dir() else []:
        match = _EXPORT.match(archive.name)
        if match and archive.is_file() and archive.name.startswith(prefixes):
            checksum = archive.with_name(archive.name + ".sha512sum")
            size = archive.stat().st_size + (checksum.stat().st_size if checksum.is_file() else 0)
            yield Item("export", match["group"], str(archive), archive.stat().st_mtime, size, archive.name in current)


def _caches(state: Path, hashes: Hashes, flavors: Sequence[str] | None) -> Iterator[Item]:
    cache = state / "cache"
    for flavor_dir in sorted(cache.iterdir()) if cache.is_dir() else []:
        if not flavor_dir.is_dir() or (flavors is not None and flavor_dir.name not in flavors):
            continue
        for step_dir in sorted(flavor_dir.iterdir()):
            if step_dir.is_dir() and not step_dir.is_symlink():
                current = step_dir.name in hashes.get(flavor_dir.name, {})
                yield Item("cache", f"{flavor_dir.name}/{step_dir.name}", str(step_dir), _mtime(step_dir),
                           tree_size(step_dir), current)
