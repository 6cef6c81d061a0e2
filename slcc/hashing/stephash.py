"""Step hashes: a BLAKE3 digest of everything that can change a step's image.

Inputs (DESIGN.md rule 1): the Dockerfile bytes, the context tree (paths, content,
executable bit, symlink targets; .dockerignore honoured), each mapping's tree, the
image-changing args the Dockerfile declares, the platforms, the Dockerfile stage and the
*hashes* of the dependencies (never their output digests), and the digest of every
external image the Dockerfile names (resolved by the caller: engine or slcc.lock). Nothing else: mtimes,
transparent args, secrets and the checkout location do not enter.
"""

from __future__ import annotations

import os
import platform as _platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from slcc.hashing.statcache import StatCache
from slcc.hashing.treehash import TreeDigest, hash_file, hash_path, hash_tree
from slcc.loading.dockerignore import IgnoreMatcher
from slcc.model import Flavor, GitPin, Step

HASH_VERSION = b"slcc-step-v2"
TAG_HASH_CHARS = 32  # 128 bits of the 256-bit digest go into the tag


@dataclass(frozen=True)
class StepHash:
    flavor: str
    step: str
    digest: str  # full 64 hex chars
    dockerfile: str  # blake3 of the Dockerfile bytes
    context: TreeDigest
    mappings: Mapping[str, TreeDigest]
    args: Mapping[str, str]
    platforms: tuple[str, ...]
    target: str | None
    depends: Mapping[str, str]  # dependency step -> its digest
    image: str = ""  # the flavor's image name (lower case); "" means the flavor name
    files: Mapping[str, str] = field(default_factory=dict)  # extra context file -> "x:"/"-:" + BLAKE3
    images: Mapping[str, str] = field(default_factory=dict)  # external image -> its digest
    sources: Mapping[str, GitPin] = field(default_factory=dict)  # git-sourced mapping -> its pin

    @property
    def short(self) -> str:
        return self.digest[:TAG_HASH_CHARS]

    def tag(self, repository: str) -> str:
        return f"{repository}/{self.image or self.flavor}:{self.step}-{self.short}"

    def manifest(self) -> dict[str, Any]:
        """What went into the hash, as JSON-able data (kept so `slcc explain` can diff it)."""
        return {
            "version": HASH_VERSION.decode(),
            "flavor": self.flavor,
            "step": self.step,
            "hash": self.digest,
            "dockerfile": self.dockerfile,
            "context": _tree_manifest(self.context),
            "mappings": {name: _tree_manifest(tree) for name, tree in self.mappings.items()},
            "args": dict(self.args),
            "platforms": list(self.platforms),
            "target": self.target,
            "depends": dict(self.depends),
            "files": dict(self.files),
            "images": dict(self.images),
            "sources": {name: {"ref": p.ref, "commit": p.commit, "tree": p.tree} for name, p in self.sources.items()},
        }


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file, directory or symlink of a tree in a hash manifest.

    Stored as ``{path: "kind:mark:digest"}`` (mark ``x`` or ``-``, the executable bit): the
    path is the key and never split, and the digest, a symlink's target, may itself hold ':'.
    """

    path: str
    kind: str  # file, dir or symlink (treehash.EntryKind)
    executable: bool
    digest: str  # BLAKE3 hex for files, the target for symlinks, "" for dirs

    def encoded(self) -> str:
        return f"{self.kind}:{'x' if self.executable else '-'}:{self.digest}"

    @classmethod
    def parse(cls, path: str, value: object) -> ManifestEntry | None:
        """The entry stored under ``path``; None when ``value`` is not in this format (an older manifest)."""
        if not isinstance(value, str):
            return None
        parts = value.split(":", 2)
        if len(parts) != 3 or not parts[0] or parts[1] not in ("x", "-"):
            return None
        return cls(path, parts[0], parts[1] == "x", parts[2])


def _tree_manifest(tree: TreeDigest) -> dict[str, Any]:
    files = {entry.path: ManifestEntry(entry.path, entry.kind, entry.executable, entry.digest).encoded()
             for entry in tree.entries}
    return {"digest": tree.digest, "files": files}


def host_platform() -> str:
    """The platform an image is built for when a flavor names none (part of the hash)."""
    machine = _platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"linux/{arch}"


class _Encoder:
    """Length-prefixed fields, so no two different inputs give the same byte stream."""

    def __init__(self) -> None:
        self._stream = bytearray()  # hashed in one call: a step's fields are a few hundred bytes

    def field(self, *parts: str) -> None:
        for part in parts:
            data = part.encode("utf-8")
            self._stream += len(data).to_bytes(8, "big")
            self._stream += data

    def hexdigest(self) -> str:
        return str(blake3.blake3(self._stream).hexdigest())


def _context_ignore(step: Step) -> IgnoreMatcher:
    """BuildKit prefers ``<Dockerfile>.dockerignore`` beside the Dockerfile over the context's."""
    specific = step.dockerfile.with_name(step.dockerfile.name + ".dockerignore")
    # lexists: a FIFO or dangling link there is what BuildKit would read, so it is an error, not skipped.
    return IgnoreMatcher.from_file(specific if os.path.lexists(specific) else step.context / ".dockerignore")


@dataclass
class FlavorHasher:
    """Hashes steps of flavors, sharing one stat cache and memoising trees used twice."""

    cache: StatCache | None = None
    default_platform: str = field(default_factory=host_platform)
    images: Mapping[str, str] = field(default_factory=dict)  # external image -> digest, resolved first
    _trees: dict[tuple[Path, str], TreeDigest] = field(default_factory=dict)

    def tree(self, root: Path, ignore: IgnoreMatcher | None, follow_links: bool = False) -> TreeDigest:
        key = (root, ("follow\n" if follow_links else "") + ("\n".join(ignore.patterns) if ignore else ""))
        if key not in self._trees:
            self._trees[key] = hash_tree(root, ignore=ignore, cache=self.cache, follow_links=follow_links)
        return self._trees[key]

    def mapping_tree(self, flavor: Flavor, name: str) -> TreeDigest:
        """A mapping's tree: a directory with its own .dockerignore, or a one-file tree; for a
        mapping pinned to a git commit, the commit's tree id (no file walk)."""
        pin = flavor.pins.get(name)
        if pin is not None:
            return TreeDigest(f"git-tree:{pin.tree}", ())
        path = flavor.mappings[name]
        if not path.is_dir():
            return hash_path(path, cache=self.cache)
        follow = name in flavor.follow_links
        return self.tree(path, IgnoreMatcher.from_file(path / ".dockerignore"), follow)

    def forget(self, paths: set[Path] | None = None) -> None:
        """Drop memoised trees (all, or those containing any of ``paths``): for watch mode."""
        if paths is None:
            self._trees.clear()
            return
        for key in [k for k in self._trees if any(p.is_relative_to(k[0]) for p in paths)]:
            del self._trees[key]

    def hash_flavor(self, flavor: Flavor) -> dict[str, StepHash]:
        hashes: dict[str, StepHash] = {}
        platforms = flavor.platforms or (self.default_platform,)
        for step in flavor.steps.values():  # dependency order: deps are hashed first
            hashes[step.name] = self.hash_step(flavor, step, platforms, {d: hashes[d].digest for d in step.depends})
        return hashes

    def hash_step(
        self, flavor: Flavor, step: Step, platforms: tuple[str, ...], depends: Mapping[str, str]
    ) -> StepHash:
        context = self.tree(step.context, _context_ignore(step))
        # BuildKit applies a named context's own .dockerignore (tests/integration/test_build.py
        # checks that on the real engine), so the hash honours it too.
        mappings = {name: self.mapping_tree(flavor, name) for name in step.mappings}
        files = _extra_files(step, self.cache)
        enc = _Encoder()
        enc.field(HASH_VERSION.decode())
        dockerfile_digest = hash_file(step.dockerfile)
        enc.field("dockerfile", dockerfile_digest)
        enc.field("context", context.digest)
        for name, tree in mappings.items():
            # How the mapping reaches BuildKit is part of what it sees.
            enc.field("mapping", name, tree.digest, *(["follow"] if name in flavor.follow_links else []))
        for name, digest in files.items():
            enc.field("file", name, digest)
        for key, value in step.args.items():
            enc.field("arg", key, value)
        for plat in platforms:
            enc.field("platform", plat)
        enc.field("target", step.target or "")
        for dep, digest in sorted(depends.items()):
            enc.field("depends", dep, digest)
        images = {name: self._image_digest(name) for name in step.images}
        for name, digest in images.items():
            enc.field("image", name, digest)
        return StepHash(
            flavor=flavor.name,
            step=step.name,
            digest=enc.hexdigest(),
            dockerfile=dockerfile_digest,
            context=context,
            mappings=mappings,
            args=step.args,
            platforms=platforms,
            target=step.target,
            depends=dict(sorted(depends.items())),
            image=flavor.image_name,
            files=files,
            images=images,
            sources={name: flavor.pins[name] for name in step.mappings if name in flavor.pins},
        )

    def _image_digest(self, name: str) -> str:
        try:
            return self.images[name]
        except KeyError:
            raise ValueError(f"image {name!r} was not resolved to a digest before hashing") from None


def _extra_files(step: Step, cache: StatCache | None) -> dict[str, str]:
    """Files added to the context: exec mark + content digest, by their name in the context."""
    files: dict[str, str] = {}
    for name, path in step.files.items():
        tree = hash_path(path, cache=cache)
        files[name] = ("x:" if tree.entries[0].executable else "-:") + tree.entries[0].digest
    for name, data in step.generated.items():
        files[name] = "-:" + blake3.blake3(data).hexdigest()
    return dict(sorted(files.items()))
