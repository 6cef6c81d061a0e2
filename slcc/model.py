"""The flavor graph as plain, immutable data. Everything downstream reads only this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Step:
    """One Dockerfile and its build context: one bake target, one hash-tagged image."""

    name: str
    flavor: str
    context: Path  # absolute
    dockerfile: Path  # absolute
    depends: tuple[str, ...]  # sorted step names of the same flavor
    mappings: tuple[str, ...]  # sorted mapping names
    args: Mapping[str, str]  # image-changing args the Dockerfile declares: hashed
    transparent_args: Mapping[str, str]  # passed to the build, never hashed
    target: str | None  # Dockerfile stage
    description: str = ""


@dataclass(frozen=True)
class Flavor:
    name: str
    directory: Path  # absolute
    description: str
    goals: tuple[str, ...]
    platforms: tuple[str, ...]  # empty: the builder's own platform
    mappings: Mapping[str, Path]  # name -> absolute path (directory or file)
    steps: Mapping[str, Step]  # in dependency order: every step after its dependencies

    @property
    def toml_path(self) -> Path:
        return self.directory / "flavor.toml"
