"""A loaded project: settings, the flavors asked for, and their step hashes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slcc.errors import InputError, WriteError
from slcc.hashing.statcache import StatCache
from slcc.hashing.stephash import FlavorHasher, StepHash
from slcc.loading.config import Settings, find_repo_root, load_settings
from slcc.loading.flavor import flavor_names, load_flavor
from slcc.loading.names import check_names
from slcc.model import Flavor

Hashes = dict[str, dict[str, StepHash]]


@dataclass
class Project:
    settings: Settings
    flavors: list[Flavor]
    hasher: FlavorHasher = field(default_factory=FlavorHasher)
    warn: Callable[[str], None] = field(default=lambda _message: None)

    def hash_all(self) -> Hashes:
        hashes = {f.name: self.hasher.hash_flavor(f) for f in self.flavors}
        if self.hasher.cache is not None:
            try:
                self.hasher.cache.save()
            except (OSError, WriteError) as exc:  # an optimisation only: a full disk must not stop the command
                self.warn(f"cannot save the stat cache: {exc}; the next run reads every file again")
        return hashes

    def flavor(self, name: str) -> Flavor:
        for flavor in self.flavors:
            if flavor.name == name:
                return flavor
        raise InputError(f"flavor {name!r} is not loaded")

    def goals(self, requested: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Goals per flavor: the requested steps (in every flavor that has them) or the defaults."""
        result: dict[str, tuple[str, ...]] = {}
        for flavor in self.flavors:
            if not requested:
                result[flavor.name] = flavor.goals
                continue
            present = tuple(g for g in requested if g in flavor.steps)
            if present:
                result[flavor.name] = present
        missing = [g for g in requested if not any(g in r for r in result.values())]
        if missing:
            steps = sorted({s for f in self.flavors for s in f.steps})
            raise InputError(f"unknown goal {missing[0]!r} (steps: {', '.join(steps)})", "--goal")
        return result


def open_project(
    repo: Path | None,
    names: Sequence[str],
    overrides: Mapping[str, str | None] | None = None,
    warn: Callable[[str], None] | None = None,
    use_stat_cache: bool = True,
) -> Project:
    """Load settings and the named flavors (all flavors when ``names`` is empty)."""
    if repo is not None and not repo.is_dir():
        raise InputError("repository directory not found", f"--repo {repo}")
    root = (repo or find_repo_root(Path.cwd())).resolve()
    settings = load_settings(root, overrides)
    chosen = list(dict.fromkeys(names)) or flavor_names(root)
    if not chosen:
        raise InputError(f"no flavors found under {root / 'flavors'} (each needs a flavor.toml)")
    flavors = [load_flavor(root, name, warn) for name in chosen]
    by_image: dict[str, str] = {}
    for flavor in flavors:
        other = by_image.setdefault(flavor.image_name, flavor.name)
        if other != flavor.name:
            raise InputError(f"flavors {other!r} and {flavor.name!r} have the same image name "
                             f"{flavor.image_name!r} (image names are lower case)", flavor.toml_path)
    cache = StatCache.load(settings.state_dir / "statcache.bin") if use_stat_cache else None
    project = Project(settings, flavors, FlavorHasher(cache=cache), warn or (lambda _message: None))
    check_names(project.flavors)
    return project
