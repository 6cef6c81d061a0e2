"""`slcc lock`: resolve every external image (and git-sourced mapping) and pin it in slcc.lock.

``lock`` adds what is missing and keeps existing pins (drops unused ones when every flavor
is loaded); ``--update`` re-resolves all or some entries; ``--check`` writes nothing and
reports how the file differs from what resolves now (CI: exit 1 when stale or incomplete).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from slcc.commands import sources
from slcc.engine.protocol import Engine
from slcc.errors import InputError
from slcc.loading import lockfile
from slcc.loading.imageref import parse_image_ref
from slcc.loading.lockfile import Lock, LockedSource
from slcc.loading.project import Project
from slcc.model import GitSource
from slcc.state.atomic import write_text_atomic

Warn = Callable[[str], None]


@dataclass(frozen=True)
class LockResult:
    path: str
    lock: Lock  # what the file holds now (for --check: what resolves now)
    changes: tuple[str, ...]  # lockfile.diff lines from the file as it was
    written: bool

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "written": self.written, "changes": list(self.changes),
                "images": dict(self.lock.images),
                "sources": {f"{f}/{m}": {"git": s.git, "ref": s.ref, "commit": s.commit, "tree": s.tree}
                            for (f, m), s in sorted(self.lock.sources.items())}}


def _lockable(project: Project) -> list[str]:
    """Images to pin: those whose reference does not carry a digest already."""
    return [n for n in project.image_names() if (ref := parse_image_ref(n)) is not None and ref.digest is None]


SourceKey = tuple[str, str]  # (flavor, mapping)


def _git_sources(project: Project) -> dict[SourceKey, GitSource]:
    return {(f.name, name): source for f in project.flavors for name, source in f.sources.items()}


def _updating(names: Sequence[str], keys: Collection[SourceKey], update: Collection[str] | None) -> set[str]:
    """Entries to re-resolve: image names and mapping names (``MAPPING`` or ``FLAVOR/MAPPING``)."""
    if update is None:
        return set()
    known = set(names) | {m for _, m in keys} | {f"{f}/{m}" for f, m in keys}
    unknown = sorted(set(update) - known)
    if unknown:
        raise InputError(f"no loaded flavor uses an image or git mapping named {unknown[0]!r} "
                         f"(known: {', '.join(sorted(known)) or 'none'})", "--update")
    return set(update) or known


def _pin_now(source: GitSource, engine: Engine, cache: Path) -> LockedSource:
    kind, ref = sources.lock_ref(source)
    _, found = sources.pin(source, kind, ref, engine, cache)
    return LockedSource(source.git, found.ref, found.commit, found.tree)


def lock(project: Project, engine: Engine, update: Collection[str] | None, all_flavors: bool,
         warn: Warn) -> LockResult:
    """Write slcc.lock: keep existing pins, resolve missing ones and those in ``update`` (empty: all)."""
    path = project.settings.lock_path
    previous = lockfile.read(path) or Lock()
    names, git_sources = _lockable(project), _git_sources(project)
    refresh = _updating(names, git_sources, update)
    kept = dict(previous.images)
    kept_sources = dict(previous.sources)
    if all_flavors:
        kept = {n: d for n, d in kept.items() if n in names}
        kept_sources = {k: v for k, v in kept_sources.items() if k in git_sources}
    wanted = sorted(n for n in names if n in refresh or n not in kept)
    resolved = engine.image_digests(wanted, warn, strict=True) if wanted else {}
    cache = project.settings.state_dir / "git"
    for key, source in git_sources.items():
        old = kept_sources.get(key)
        if old is None or old.git != source.git or key[1] in refresh or f"{key[0]}/{key[1]}" in refresh:
            kept_sources[key] = _pin_now(source, engine, cache)
    new = Lock({**kept, **resolved}, kept_sources)
    return _write(path, lockfile.read(path), new)


def write_resolved(project: Project, digests: Mapping[str, str]) -> LockResult:
    """Scope tag: pin exactly the digests and commits a build just used, over the existing lock."""
    path = project.settings.lock_path
    previous = lockfile.read(path) or Lock()
    lockable = set(_lockable(project))
    pinned = {n: d for n, d in digests.items() if n in lockable}
    commits = {(f.name, name): LockedSource(f.sources[name].git, p.ref, p.commit, p.tree)
               for f in project.flavors for name, p in f.pins.items()}
    new = Lock({**previous.images, **pinned}, {**previous.sources, **commits})
    return _write(path, lockfile.read(path), new)


def _write(path: Path, previous: Lock | None, new: Lock) -> LockResult:
    changes = tuple(lockfile.diff(previous, new))
    text = lockfile.render(new)
    written = previous is None or bool(changes) or path.read_text(encoding="utf-8") != text
    if written:
        write_text_atomic(path, text)
    return LockResult(str(path), new, changes, written)


def check(project: Project, engine: Engine, all_flavors: bool, warn: Warn) -> LockResult:
    """What differs between slcc.lock and what resolves now; writes nothing."""
    path = project.settings.lock_path
    previous = lockfile.read(path)
    names = _lockable(project)
    cache = project.settings.state_dir / "git"
    commits = {key: _pin_now(source, engine, cache) for key, source in _git_sources(project).items()}
    now = Lock(engine.image_digests(names, warn, strict=True) if names else {}, commits)
    changes = lockfile.diff(previous, now)
    if not all_flavors:  # entries of flavors not loaded are not this check's business
        changes = [c for c in changes if not c.startswith("- ")]
    if previous is None:
        changes.insert(0, f"{path.name} does not exist")
    return LockResult(str(path), now, tuple(changes), False)
