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
from slcc.loading.imageref import parse_image_ref
from slcc.loading.names import check_names
from slcc.model import Flavor

Hashes = dict[str, dict[str, StepHash]]
# Digests of external images (name as the Dockerfile writes it -> sha256:...): asked of the
# engine, or read from slcc.lock; given only the names that do not carry a digest themselves.
ImageResolver = Callable[[Sequence[str]], Mapping[str, str]]


def _no_images(names: Sequence[str]) -> Mapping[str, str]:
    raise InputError(f"image {names[0]!r} cannot be resolved: no image resolver was given")


@dataclass
class Project:
    settings: Settings
    flavors: list[Flavor]
    hasher: FlavorHasher = field(default_factory=FlavorHasher)
    warn: Callable[[str], None] = field(default=lambda _message: None)
    resolver: ImageResolver = _no_images

    def image_names(self) -> list[str]:
        """Every external image the loaded flavors use, sorted."""
        return sorted({image for f in self.flavors for s in f.steps.values() for image in s.images})

    def resolve_images(self) -> dict[str, str]:
        """Digest of every external image: from the reference itself, else from the resolver."""
        names = self.image_names()
        given = {n: ref.digest for n in names if (ref := parse_image_ref(n)) is not None and ref.digest}
        wanted = [n for n in names if n not in given]
        resolved = dict(self.resolver(wanted)) if wanted else {}
        return {**given, **{n: resolved[n] for n in wanted}}

    def hash_all(self) -> Hashes:
        self.hasher.images = self.resolve_images()
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
    resolver: ImageResolver = _no_images,
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
    project = Project(settings, flavors, FlavorHasher(cache=cache), warn or (lambda _message: None), resolver)
    check_names(project.flavors)
    return project
