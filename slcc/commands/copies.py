"""Copies slcc can always write again, as retention Items: materialized contexts
(``.slcc/contexts/``) and git checkouts (``.slcc/git/<commit>/`` plus the bare repositories
remote sources are fetched into, ``.slcc/git/repos/``).

They follow clean's keep rules like images (the current tree's are kept, then the last N of a
group, then what is younger than --keep-since): the current tree's contexts and checkouts are
what the hashes and the scope name, and a commit slcc.lock pins is kept in any scope. A checkout
is shared by every flavor whose mapping resolves to its commit, and a mapping's copy by every
flavor with that content, so these are only looked at when no flavor is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from slcc.emitting import materialized
from slcc.engine import git
from slcc.loading import lockfile
from slcc.loading.project import Hashes, Project
from slcc.planning.retention import Item
from slcc.state.disk import tree_size

_CONTEXT = re.compile(r"^(?P<name>.+)-[0-9a-f]{32}$")
_DIGEST = re.compile(r"^[0-9a-f]{32}$")
SHARED_MAPPINGS = "mapping copies"  # the group --keep counts shared mapping copies in
_COMMIT = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")  # sha1 or sha256 object names
CHECKOUTS = "git checkouts"  # the group --keep counts checkouts in
REPOSITORIES = "git repositories"


def git_dir(project: Project) -> Path:
    return project.settings.state_dir / "git"


def _current_contexts(project: Project, hashes: Hashes) -> set[Path]:
    settings, current = project.settings, set()
    for flavor in project.flavors:
        for step in flavor.steps.values():
            step_hash = hashes[flavor.name][step.name]
            if step.materialized:
                current.add(materialized.step_context_dir(settings, flavor, step, step_hash))
            current.update(materialized.mapping_dir(settings, flavor, name, step_hash)
                           for name in step.mappings if flavor.materialized_mapping(name))
    return current


def _context_item(entry: Path, group: str, current: set[Path]) -> Item:
    return Item("context", group, str(entry), entry.stat().st_mtime, tree_size(entry), entry in current)


def context_items(project: Project, hashes: Hashes, flavors: Sequence[str] | None) -> Iterator[Item]:
    """Materialized contexts: a step's (.slcc/contexts/<image name>/<step>-<hash>) grouped by step;
    mapping copies (.slcc/contexts/_mappings/<digest>) as one group, only when no flavor is named."""
    root = project.settings.state_dir / "contexts"
    wanted = {f.lower() for f in flavors} if flavors is not None else None
    current = _current_contexts(project, hashes)
    for flavor_dir in sorted(root.iterdir()) if root.is_dir() else []:
        if flavor_dir.name == materialized.SHARED_MAPPINGS:
            if flavors is None:  # shared by flavors, like checkouts
                yield from (_context_item(e, SHARED_MAPPINGS, current) for e in sorted(flavor_dir.iterdir())
                            if _DIGEST.match(e.name) and e.is_dir() and not e.is_symlink())
            continue
        if not flavor_dir.is_dir() or (wanted is not None and flavor_dir.name not in wanted):
            continue
        for entry in sorted(flavor_dir.iterdir()):  # mapping-<name>-<digest>: copies made before they were shared
            match = _CONTEXT.match(entry.name)
            if match and entry.is_dir() and not entry.is_symlink():
                yield _context_item(entry, f"{flavor_dir.name}/{match['name']}", current)


def _current_git(project: Project) -> set[Path]:
    """Checkouts the scope resolved mappings to, those slcc.lock pins, and the sources' fetch caches."""
    cache = git_dir(project)
    current = {path for flavor in project.flavors for path in flavor.mappings.values() if path.parent == cache}
    lock = lockfile.read(project.settings.lock_path)
    pinned = lock.sources.values() if lock is not None else []
    current.update(cache / source.commit for source in pinned)
    urls = {s.git for f in project.flavors for s in f.sources.values()} | {s.git for s in pinned}
    current.update(git.bare_repository(url, cache) for url in urls if not url.startswith("/"))
    return current


def git_items(project: Project, flavors: Sequence[str] | None) -> Iterator[Item]:
    """Git checkouts and fetch caches; none when flavors are named (checkouts are shared)."""
    cache = git_dir(project)
    if flavors is not None or not cache.is_dir():
        return
    current = _current_git(project)
    for entry in sorted(cache.iterdir()):
        if _COMMIT.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            tree = entry.with_name(f"{entry.name}.tree")
            size = tree_size(entry) + (tree.stat().st_size if tree.is_file() else 0)
            yield Item("checkout", CHECKOUTS, str(entry), entry.stat().st_mtime, size, entry in current)
    repos = cache / "repos"
    for entry in sorted(repos.glob("*.git")) if repos.is_dir() else []:
        if entry.is_dir() and not entry.is_symlink():
            yield Item("checkout", REPOSITORIES, str(entry), entry.stat().st_mtime, tree_size(entry),
                       entry in current)


def companions(path: Path) -> list[Path]:
    """Files that go before ``path`` does: a checkout's tree id (no reuse without its files)."""
    if _COMMIT.match(path.name) and path.parent.name == "git":
        return [path.with_name(f"{path.name}.tree")]
    return []
