"""The flavor graph as plain, immutable data. Everything downstream reads only this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # Extra files placed at these paths of the context (a context with them is materialized).
    files: Mapping[str, Path] = field(default_factory=dict)  # name in context -> absolute source file
    generated: Mapping[str, bytes] = field(default_factory=dict)  # name in context -> content
    images: tuple[str, ...] = ()  # sorted external images (FROM, COPY --from, RUN --mount from=)

    @property
    def materialized(self) -> bool:
        """True when BuildKit gets a copy of the context with the extra files, not the directory."""
        return bool(self.files or self.generated)


@dataclass(frozen=True)
class GitSource:
    """A mapping whose content comes from a git repository at a branch or tag (see scopes)."""

    git: str  # a URL, or the absolute path of a local repository
    branch: str  # scope main
    tag: str | None  # scope tag (and what `slcc lock` pins)
    path: Path | None  # the working tree for scope local; default: ``git`` when it is a local path

    @property
    def local(self) -> bool:
        return self.git.startswith("/")


@dataclass(frozen=True)
class GitPin:
    """A git source resolved to one commit; its tree id is the mapping's hash."""

    ref: str  # "tag:v1" or "branch:main"
    commit: str
    tree: str


@dataclass(frozen=True)
class Flavor:
    name: str
    directory: Path  # absolute
    description: str
    goals: tuple[str, ...]
    platforms: tuple[str, ...]  # empty: the builder's own platform
    mappings: Mapping[str, Path]  # name -> absolute path (directory or file)
    steps: Mapping[str, Step]  # in dependency order: every step after its dependencies
    # Git-sourced mappings by name. Until the scope resolves them (slcc.commands.pins.attach),
    # ``mappings`` has no directory for them; afterwards it holds the working tree or checkout.
    sources: Mapping[str, GitSource] = field(default_factory=dict)
    pins: Mapping[str, GitPin] = field(default_factory=dict)  # resolved sources: hashed by tree id
    follow_links: frozenset[str] = frozenset()  # mappings whose symlinks are followed (sent as content)
    package_files: tuple[Path, ...] = ()  # sources of steps' generated package files (absolute)

    @property
    def image_name(self) -> str:
        """Image names are lower case; flavor names may not be (exaslct's are not)."""
        return self.name.lower()

    def materialized_mapping(self, name: str) -> bool:
        """A file mapping or one that follows symlinks reaches BuildKit as a materialized copy."""
        return name in self.follow_links or not self.mappings[name].is_dir()

    @property
    def toml_path(self) -> Path:
        return self.directory / "flavor.toml"
