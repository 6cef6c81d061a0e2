"""A loaded project's scope pins: where image digests come from, and which commit each git mapping uses.

Every command that loads flavors attaches these; only `slcc lock` (commands/lock.py) writes them.
Kept apart from the lock command so that `slcc build` and `slcc hash` load none of its code.
"""

from __future__ import annotations

from collections.abc import Callable

from slcc.commands import sources
from slcc.engine.protocol import Engine
from slcc.errors import InputError
from slcc.loading import lockfile
from slcc.loading.config import Settings
from slcc.loading.project import ImageResolver, Project

Warn = Callable[[str], None]


def attach(project: Project, engine: Engine, warn: Warn) -> None:
    """Give ``project`` its scope's pins: the image resolver, and a directory and commit for
    every git-sourced mapping. Reads slcc.lock in scope rel (bad input there is exit 2)."""
    settings = project.settings
    project.resolver = resolver_for(settings, engine, warn)
    if any(f.sources for f in project.flavors):
        lock = lockfile.read(settings.lock_path) if settings.scope == "rel" else None
        cache = settings.state_dir / "git"
        project.flavors = [sources.resolve(f, settings.scope, lock, settings.lock_path, engine, cache)
                           for f in project.flavors]


def resolver_for(settings: Settings, engine: Engine, warn: Warn) -> ImageResolver:
    """Where image digests come from in the chosen scope: slcc.lock for rel, else the engine."""
    if settings.scope != "rel":
        return lambda names: engine.image_digests(names, warn)
    lock = lockfile.read(settings.lock_path)
    if lock is None:
        raise InputError(f"scope rel needs {settings.lock_path.name}: run `slcc lock` first, or use --scope local",
                         settings.scope_source)
    return lockfile.locked_images(lock, settings.lock_path)
