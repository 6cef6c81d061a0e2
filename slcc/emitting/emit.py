"""Emit a docker buildx bake file (HCL) for flavors and their step hashes.

Output is deterministic: the same inputs give byte-identical text on any machine and
checkout path (every path is written relative to the repository root, which is where bake
runs). Only CSV string forms are used for cache and secret entries (buildx 0.13).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from slcc import __version__
from slcc.emitting import hcl, materialized
from slcc.errors import InputError
from slcc.hashing.stephash import StepHash
from slcc.loading.config import Settings
from slcc.loading.imageref import parse_image_ref
from slcc.model import Flavor, Step
from slcc.vocabulary import StepKey

LABEL_PREFIX = "org.slcc"



@dataclass(frozen=True)
class EmitRequest:
    flavors: Sequence[Flavor]
    hashes: Mapping[str, Mapping[str, StepHash]]  # flavor -> step -> hash
    settings: Settings
    # Steps that get a target; None means every step. Dependencies outside this set are
    # given to BuildKit by image reference (they are fresh), not rebuilt.
    only: frozenset[tuple[str, str]] | None = None  # StepKeys
    revision: str | None = None  # source revision label, when known
    extra_labels: Mapping[str, str] = field(default_factory=dict)


def _rel(path: Path, root: Path) -> str:
    text, prefix = str(path), str(root)
    if text.startswith(prefix + os.sep):  # the common case, without relpath's abspath calls
        return text[len(prefix) + 1 :].replace(os.sep, "/")
    return os.path.relpath(path, root).replace(os.sep, "/")


def _host_file(path: Path, root: Path) -> str:
    """A host file for bake: relative when inside the repository, so the text is the same in every checkout."""
    return _rel(path, root) if path.is_relative_to(root) else str(path)


def csv_field(text: str) -> str:
    """One field of a buildx CSV option string, quoted when it holds a comma or quote."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def cache_ref(settings: Settings, flavor: str, step: str) -> str:
    return f"{settings.repository}/{flavor.lower()}:cache-{step}"


def local_cache_dir(settings: Settings, flavor: str, step: str) -> Path:
    return settings.state_dir / "cache" / flavor / step


@dataclass(frozen=True)
class _Common:
    """What every target of one file shares, worked out once (path arithmetic is most of an emit)."""

    cache_dir: str  # local_cache_dir without flavor and step, relative to the repository root
    secret: list[str] | None  # the CA bundle as BuildKit secret 'ca'

    @classmethod
    def of(cls, settings: Settings) -> _Common:
        root = settings.repo_root
        secret = [f"id=ca,{csv_field('src=' + _host_file(settings.ca_bundle, root))}"] if settings.ca_bundle else None
        return cls(_rel(settings.state_dir / "cache", root), secret)


def _cache(common: _Common, flavor: str, step: str) -> tuple[hcl.Expression, hcl.Expression]:
    """cache-from and cache-to: calls of the file's cache functions, so SLCC_CACHE can switch them."""
    directory = f"{common.cache_dir}/{flavor}/{step}"  # local_cache_dir: flavor and step names have no "/"
    return (
        # Image names are lower case (a flavor name may not be).
        hcl.call("slcc_cache_from", flavor.lower(), step, csv_field("src=" + directory)),
        hcl.call("slcc_cache_to", flavor.lower(), step, csv_field("dest=" + directory)),
    )


# Bake variables a CI overrides through the environment (the same names and values slcc
# reads): where hash-tagged images live and which cache backend the targets use. The cache
# functions give exactly the settings `slcc build` uses; `gha` is for GitHub Actions.
VARIABLES = ("SLCC_REPOSITORY", "SLCC_CACHE")
_CACHE_FUNCTIONS = """\
# Cache entries of one step for the backend in SLCC_CACHE: registry, local, inline, gha or none.
function "slcc_cache_from" {
  params = [flavor, step, local]
  result = (
    SLCC_CACHE == "registry" ? ["type=registry,ref=${SLCC_REPOSITORY}/${flavor}:cache-${step}"] :
    SLCC_CACHE == "local" ? ["type=local,${local}"] :
    SLCC_CACHE == "gha" ? ["type=gha,scope=${flavor}-${step}"] : []
  )
}

function "slcc_cache_to" {
  params = [flavor, step, local]
  result = (
    SLCC_CACHE == "registry" ? ["type=registry,ref=${SLCC_REPOSITORY}/${flavor}:cache-${step},mode=max"] :
    SLCC_CACHE == "local" ? ["type=local,${local},mode=max"] :
    SLCC_CACHE == "inline" ? ["type=inline"] :
    SLCC_CACHE == "gha" ? ["type=gha,scope=${flavor}-${step},mode=max"] : []
  )
}
"""


def variable_values(settings: Settings) -> dict[str, str]:
    """The values of the bake variables that reproduce ``settings`` (their defaults in emitted files)."""
    return {"SLCC_REPOSITORY": settings.repository, "SLCC_CACHE": settings.cache_backend}


def _preamble(settings: Settings) -> list[str]:
    blocks = [hcl.block("variable", name, [("default", value)]) for name, value in variable_values(settings).items()]
    return [*blocks, _CACHE_FUNCTIONS]


def labels(step_hash: StepHash, revision: str | None, extra: Mapping[str, str]) -> dict[str, str]:
    result = {
        f"{LABEL_PREFIX}.flavor": step_hash.flavor,
        f"{LABEL_PREFIX}.step": step_hash.step,
        f"{LABEL_PREFIX}.hash": step_hash.digest,
        **extra,
    }
    if revision:
        result["org.opencontainers.image.revision"] = revision
    return result


def target_names(flavors: Sequence[Flavor]) -> dict[tuple[str, str], str]:
    """Bake target name per step; distinct steps never share a name."""
    names: dict[tuple[str, str], str] = {}  # keyed by StepKey; plain (flavor, step) tuples look up too
    seen: dict[str, StepKey] = {}
    groups = {hcl.target_name(f.name): f.name for f in flavors}
    for flavor in flavors:
        for step in flavor.steps:
            name = hcl.target_name(flavor.name, step)
            other = seen.get(name)
            if other is not None or name in groups or name == "default":
                clash = f"{other[0]}/{other[1]}" if other else f"group {name!r}"
                raise InputError(f"bake target name {name!r} of {flavor.name}/{step} collides with {clash}")
            seen[name] = StepKey(flavor.name, step)
            names[StepKey(flavor.name, step)] = name
    return names


def _image_ref(step_hash: StepHash, scheme: str = "") -> str:
    """The step's tag with the repository taken from the SLCC_REPOSITORY variable."""
    return hcl.interpolated(scheme, "SLCC_REPOSITORY", step_hash.tag(""))  # tag("") is "/<name>:<tag>"
def _pinned_images(step_hash: StepHash) -> dict[str, str]:
    """Named contexts that override each external image with exactly the digest hashed.

    BuildKit lets a named context replace the image a FROM / COPY --from / RUN --mount
    names (checked on the engine in tests/integration/test_lock.py), so no Dockerfile is edited.
    """
    pinned = {}
    for name, digest in step_hash.images.items():
        ref = parse_image_ref(name)
        if ref is not None and ref.digest is None:  # a reference with a digest is pinned already
            pinned[name] = ref.pinned(digest)
    return pinned


def _target(request: EmitRequest, common: _Common, flavor: Flavor, step: Step,
            names: Mapping[tuple[str, str], str]) -> str:
    settings = request.settings
    root = settings.repo_root
    step_hash = request.hashes[flavor.name][step.name]
    contexts: dict[str, str] = {}
    for dep in step.depends:
        key = StepKey(flavor.name, dep)
        if request.only is None or key in request.only:
            contexts[dep] = f"target:{names[key]}"
        else:
            contexts[dep] = _image_ref(request.hashes[flavor.name][dep], "docker-image://")
    for mapping in step.mappings:
        contexts[mapping] = _rel(materialized.mapping_of(settings, flavor, mapping, step_hash), root)
    context = materialized.context_of(settings, flavor, step, step_hash)
    contexts.update(_pinned_images(step_hash))
    cache_from, cache_to = _cache(common, flavor.name, step.name)
    # buildx 0.13 has no `description` attribute (0.16+), so it goes into a comment.
    comment = f"# {step.name}: {' '.join(step.description.split())}\n" if step.description else ""
    return comment + hcl.block(
        "target",
        names[StepKey(flavor.name, step.name)],
        [
            ("context", _rel(context, root)),
            # Relative to the context BuildKit gets (a materialized copy is elsewhere).
            ("dockerfile", _rel(step.dockerfile, context)),
            ("target", step.target),
            ("args", {**step.transparent_args, **step.args} or None),
            ("contexts", contexts or None),
            ("tags", [_image_ref(step_hash)]),
            ("labels", labels(step_hash, request.revision, request.extra_labels)),
            ("platforms", list(flavor.platforms) or None),
            ("cache-from", cache_from),
            ("cache-to", cache_to),
            ("secret", common.secret),
            # Provenance would record build args (transparent ones included) in image
            # metadata and make digests differ between identical builds.
            ("attest", ["type=provenance,disabled=true"]),
        ],
    )


MAX_FILE_STEM = 100  # file names are limited to 255 bytes; 14 real flavors joined exceed that


def default_file_name(flavors: Sequence[str]) -> str:
    """``a-b.hcl`` for a few flavors; a bounded, still unique name for many."""
    joined = "-".join(flavors)
    if len(joined.encode()) <= MAX_FILE_STEM:
        return joined + ".hcl"
    digest = blake3.blake3("\n".join(flavors).encode()).hexdigest()[:12]
    return f"{flavors[0][:60]}-and-{len(flavors) - 1}-more-{digest}.hcl"


def emit_bake(request: EmitRequest) -> str:
    names = target_names(request.flavors)
    sources = ", ".join(_rel(f.toml_path, request.settings.repo_root) for f in request.flavors)
    parts = [
        f"# Generated by slcc {__version__} from {sources}. Do not edit: run `slcc emit-bake`.\n"
        "# Run from the repository root: docker buildx bake -f <this file> [TARGET...]\n"
    ]
    group_names: list[str] = []
    common = _Common.of(request.settings)
    for flavor in request.flavors:
        included = [s for s in flavor.steps.values() if request.only is None or (flavor.name, s.name) in request.only]
        if not included:
            continue
        group = hcl.target_name(flavor.name)
        group_names.append(group)
        # A full file groups each flavor's goals; a build file groups exactly what it builds.
        members = flavor.goals if request.only is None else [s.name for s in included]
        parts.append(hcl.block("group", group, [("targets", [names[StepKey(flavor.name, m)] for m in members])]))
        parts.extend(_target(request, common, flavor, step, names) for step in included)
    parts[1:1] = [*_preamble(request.settings), hcl.block("group", "default", [("targets", group_names)])]
    return "\n".join(parts)
