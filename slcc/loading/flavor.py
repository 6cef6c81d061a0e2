"""Load ``flavors/<name>/flavor.toml`` into a validated :class:`~slcc.model.Flavor`.

Every problem is an :class:`InputError` naming the file: slcc reports it as one line and
exits 2 before anything is written.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slcc.errors import InputError
from slcc.loading import dockerfile, gitsource, packagefile, tomlfile
from slcc.loading.graph import CycleError, topological_order
from slcc.loading.imageref import parse_image_ref
from slcc.model import Flavor, GitSource, Step

# Upper case is allowed (exaslct users know their flavors as e.g. standard-EXASOL-all);
# image names use the lower-cased name, and names equal but for case are rejected.
FLAVOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CONTEXT_FILE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.+-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.+-]*)*$")
# Step and mapping names appear in FROM lines, so they must be valid lowercase image names,
# and in tags and bake target names; no dots keeps the target-name mapping one to one.
STEP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")

_FLAVOR_KEYS = {"flavor", "args", "transparent_args", "mappings", "steps"}
_HEADER_KEYS = {"description", "goals", "platforms", "package_files"}
_STEP_KEYS = {"description", "depends", "mappings", "dockerfile", "context", "target", "args", "transparent_args",
              "files", "package_file"}
_MAPPING_KEYS = {"path", "follow_symlinks"}

Warn = Callable[[str], None]


def flavor_names(repo_root: Path) -> list[str]:
    flavors = repo_root / "flavors"
    if not flavors.is_dir():
        return []
    return sorted(p.name for p in flavors.iterdir() if (p / "flavor.toml").is_file())


def _inside(path: Path, repo_root: Path, what: str, source: Path) -> Path:
    """Resolve ``path`` strictly; it must exist and stay inside the repository.

    ``..`` is applied to the path as written first: below a flavor directory that is a
    symlink, ``../../client`` means the repository's client, as the user sees it, not one
    next to the link target.
    """
    try:
        resolved = Path(os.path.normpath(path)).resolve(strict=True)
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist", source) from None
    except (RuntimeError, OSError) as exc:  # RuntimeError: symlink loop (Python 3.11)
        raise InputError(f"{what} {path}: cannot resolve ({exc})", source) from None
    if not resolved.is_relative_to(repo_root):
        raise InputError(f"{what} {path} escapes the repository ({resolved})", source)
    return resolved


def _child(parent: Path, rel: str, repo_root: Path, what: str, source: Path) -> Path:
    """``parent`` (resolved, inside the repository) joined with ``rel``, resolved.

    A plain name that is not a symlink needs one lstat instead of a full resolve: this is
    the common case (a step directory, its Dockerfile) and matters for flavors of 1,000 steps.
    """
    if "/" not in rel and rel not in ("", ".", ".."):
        candidate = parent / rel
        try:
            if not stat.S_ISLNK(os.lstat(candidate).st_mode):
                return candidate
        except FileNotFoundError:
            raise InputError(f"{what} {candidate} does not exist", source) from None
        except OSError:
            pass  # let the full resolve report it
    return _inside(parent / rel, repo_root, what, source)


def _name(value: str, pattern: re.Pattern[str], what: str, source: Path) -> str:
    if not pattern.match(value):
        raise InputError(f"invalid {what} name {value!r} (must match {pattern.pattern})", source)
    return value


def load_flavor(repo_root: Path, name: str, warn: Warn | None = None) -> Flavor:
    """Load flavor ``name`` (a name under flavors/ or a path to a flavor directory)."""
    warn = warn or (lambda _msg: None)
    repo_root = repo_root.resolve()
    directory = Path(name) if ("/" in name or name in (".", "..")) else repo_root / "flavors" / name
    toml_path = directory / "flavor.toml"
    if not os.path.lexists(toml_path):  # anything else there (a FIFO, a directory) is reported by the reader
        known = ", ".join(flavor_names(repo_root)) or "none"
        raise InputError(f"no flavor {name!r}: {toml_path} not found (flavors: {known})")
    # The name is the flavors/ entry's, and paths resolve from it, even when it is a symlink.
    directory = Path(os.path.normpath(directory if directory.is_absolute() else Path.cwd() / directory))
    _inside(directory, repo_root, "flavor directory", toml_path)
    flavor_name = _name(directory.name, FLAVOR_NAME, "flavor", toml_path)
    data = tomlfile.load(toml_path)
    return _build(data, repo_root, directory, flavor_name, toml_path, warn)


@dataclass(frozen=True)
class _FlavorFile:
    """What every step of one flavor.toml is checked against."""

    name: str
    directory: Path
    repo_root: Path
    src: Path  # the flavor.toml, named in every error
    step_names: frozenset[str]
    mappings: frozenset[str]  # directory, file and git-sourced mapping names
    package_files: tuple[Path, ...]
    args: dict[str, str]
    transparent_args: dict[str, str]
    warn: Warn


def _build(data: dict[str, Any], repo_root: Path, directory: Path, name: str, src: Path, warn: Warn) -> Flavor:
    tomlfile.check_keys(data, _FLAVOR_KEYS, "", src)
    header = tomlfile.table(data.get("flavor"), "[flavor]", src)
    tomlfile.check_keys(header, _HEADER_KEYS, "in [flavor]: ", src)
    mappings, follow_links, sources = _mappings(data.get("mappings"), repo_root, directory, src)
    package_files = tuple(
        _inside(directory / rel, repo_root, "package file", src)
        for rel in tomlfile.string_list(header.get("package_files"), "[flavor].package_files", src)
    )
    raw_steps = tomlfile.table(data.get("steps"), "[steps]", src)
    if not raw_steps:
        raise InputError("a flavor needs at least one [steps.NAME] table", src)
    for step_name in raw_steps:
        _name(step_name, STEP_NAME, "step", src)
        if step_name in mappings or step_name in sources:
            raise InputError(f"{step_name!r} is both a step and a mapping", src)

    file = _FlavorFile(
        name=name,
        directory=directory,
        repo_root=repo_root,
        src=src,
        step_names=frozenset(raw_steps),
        mappings=frozenset(mappings) | frozenset(sources),
        package_files=package_files,
        args=_args(data.get("args"), "[args]", src),
        transparent_args=_args(data.get("transparent_args"), "[transparent_args]", src),
        warn=warn,
    )
    steps = {n: _step(file, n, tomlfile.table(raw, f"[steps.{n}]", src)) for n, raw in raw_steps.items()}
    try:
        order = topological_order({s.name: s.depends for s in steps.values()})
    except CycleError as exc:
        raise InputError(f"dependency cycle: {exc}", src) from None

    goals, platforms = _goals_and_platforms(header, steps, order, src)
    return Flavor(
        name=name,
        directory=directory,
        description=tomlfile.string(header.get("description", ""), "[flavor].description", src),
        goals=goals,
        platforms=tuple(sorted(set(platforms))),
        mappings=dict(sorted(mappings.items())),
        steps={n: steps[n] for n in order},
        follow_links=follow_links,
        package_files=package_files,
        sources=dict(sorted(sources.items())),
    )


def _mappings(value: Any, repo_root: Path, directory: Path, src: Path
              ) -> tuple[dict[str, Path], frozenset[str], dict[str, GitSource]]:
    """``name = "path"``, ``name = { path = "...", follow_symlinks = true }`` (a path may be a file),
    or a git source ``name = { git = "...", branch = "...", tag = "..." }``."""
    mappings: dict[str, Path] = {}
    follow: set[str] = set()
    sources: dict[str, GitSource] = {}
    for key, raw in tomlfile.table(value, "[mappings]", src).items():
        where = f"[mappings].{key}"
        _name(key, STEP_NAME, "mapping", src)
        if isinstance(raw, dict) and set(raw) & {"git", "branch", "tag"}:
            sources[key] = gitsource.parse(raw, key, directory, repo_root, src)
            continue
        if isinstance(raw, dict):
            tomlfile.check_keys(raw, _MAPPING_KEYS, f"in {where}: ", src)
            rel = tomlfile.string(raw.get("path"), f"{where}.path", src)
            flag = raw.get("follow_symlinks", False)
            if not isinstance(flag, bool):
                raise InputError(f"{where}.follow_symlinks must be true or false", src)
            if flag:
                follow.add(key)
        else:
            rel = tomlfile.string(raw, where, src)
        mappings[key] = _inside(directory / rel, repo_root, f"mapping {key!r}", src)
        if not (mappings[key].is_dir() or mappings[key].is_file()):
            raise InputError(f"mapping {key!r} is not a file or directory: {rel}", src)
    return mappings, frozenset(follow), sources


def _args(value: Any, where: str, src: Path) -> dict[str, str]:
    args = tomlfile.string_map(value, where, src)
    for key in args:
        if not ARG_NAME.match(key):
            raise InputError(f"invalid build arg name {key!r} in {where}", src)
    return args


def _goals_and_platforms(header: dict[str, Any], steps: dict[str, Step], order: list[str],
                         src: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    goals = tuple(tomlfile.string_list(header.get("goals"), "[flavor].goals", src)) or (order[-1],)
    for goal in goals:
        if goal not in steps:
            raise InputError(f"goal {goal!r} is not a step (steps: {', '.join(sorted(steps))})", src)
    platforms = tuple(tomlfile.string_list(header.get("platforms"), "[flavor].platforms", src))
    for platform in platforms:
        if not PLATFORM.match(platform):
            raise InputError(f"invalid platform {platform!r} (e.g. linux/amd64)", src)
    return goals, platforms


def _uses(file: _FlavorFile, name: str, raw: dict[str, Any], where: str) -> tuple[set[str], set[str]]:
    """A step's declared dependencies and mappings, each checked to exist."""
    src = file.src
    depends = set(tomlfile.string_list(raw.get("depends"), f"{where}.depends", src))
    for dep in sorted(depends):
        if dep == name:
            raise InputError(f"step {name!r} depends on itself", src)
        if dep not in file.step_names:
            raise InputError(f"step {name!r} depends on unknown step {dep!r}", src)
    used_mappings = set(tomlfile.string_list(raw.get("mappings"), f"{where}.mappings", src))
    unknown = sorted(used_mappings - set(file.mappings))
    if unknown:
        raise InputError(f"step {name!r} uses unknown mapping {unknown[0]!r} (declare it in [mappings])", src)
    return depends, used_mappings


def _step(file: _FlavorFile, name: str, raw: dict[str, Any]) -> Step:
    where, src = f"[steps.{name}]", file.src
    tomlfile.check_keys(raw, _STEP_KEYS, f"in {where}: ", src)
    depends, used_mappings = _uses(file, name, raw, where)

    context_rel = tomlfile.string(raw.get("context", name), f"{where}.context", src)
    context = _child(file.directory, context_rel, file.repo_root, f"context of step {name!r}", src)
    if not context.is_dir():
        raise InputError(f"context of step {name!r} is not a directory: {context}", src)
    dockerfile_rel = tomlfile.string(raw.get("dockerfile", "Dockerfile"), f"{where}.dockerfile", src)
    dockerfile_path = _child(context, dockerfile_rel, file.repo_root, f"Dockerfile of step {name!r}", src)

    own_args = _args(raw.get("args"), f"{where}.args", src)
    step_args = {**file.args, **own_args}
    transparent = {**file.transparent_args, **_args(raw.get("transparent_args"), f"{where}.transparent_args", src)}
    both = sorted(set(step_args) & set(transparent))
    if both:
        raise InputError(f"arg {both[0]!r} of step {name!r} is both image-changing and transparent", src)
    info = dockerfile.parse(dockerfile_path, step_args)
    _check_references(file, name, info, depends, used_mappings, dockerfile_path)
    for unused in sorted(depends - {r.name for r in info.references}):
        file.warn(f"{dockerfile_path}: step {name!r} declares dependency {unused!r} but never uses it")
    for key in sorted(set(own_args) - info.declared_args):
        file.warn(f"{dockerfile_path}: arg {key!r} of step {name!r} is not declared with ARG; it has no effect")

    files, generated = _extra_files(file, name, raw, context)
    _check_sources(info, context, set(files) | set(generated), dockerfile_path)
    target = _target(raw.get("target"), info, f"{where}.target", src)
    return Step(
        name=name,
        flavor=file.name,
        context=context,
        dockerfile=dockerfile_path,
        depends=tuple(sorted(depends)),
        mappings=tuple(sorted(used_mappings)),
        # Only declared ARGs can change the image; hashing the rest would rebuild for nothing.
        args={k: v for k, v in sorted(step_args.items()) if k in info.declared_args},
        transparent_args=dict(sorted(transparent.items())),
        target=target,
        description=tomlfile.string(raw.get("description", ""), f"{where}.description", src),
        files=files,
        generated=generated,
        images=_external_images(file, info, dockerfile_path),
    )


def _target(value: Any, info: dockerfile.DockerfileInfo, where: str, src: Path) -> str | None:
    """The Dockerfile stage to build; it must exist (BuildKit matches stage names case-insensitively)."""
    if value is None:
        return None
    target = tomlfile.string(value, where, src)
    if target.lower() not in {s.lower() for s in info.stages}:
        stages = ", ".join(info.stages) or "none (no FROM ... AS NAME)"
        raise InputError(f"{where}: no stage {target!r} in the Dockerfile (stages: {stages})", src)
    return target


def _external_images(file: _FlavorFile, info: dockerfile.DockerfileInfo, path: Path) -> tuple[str, ...]:
    """Names that are neither steps nor mappings: images whose digests enter the hash."""
    images: set[str] = set()
    for ref in info.references:
        if ref.name in file.step_names or ref.name in file.mappings:
            continue
        what = f"line {ref.line}: {ref.instruction} names"
        if "$" in ref.name:
            raise InputError(f"{what} {ref.name!r}, which uses a build arg without a value (set it in [args])", path)
        if parse_image_ref(ref.name) is None:
            raise InputError(f"{what} {ref.name!r}, which is not a valid image reference", path)
        images.add(ref.name)
    return tuple(sorted(images))


def _extra_files(file: _FlavorFile, step: str, raw: dict[str, Any], context: Path) -> tuple[
        dict[str, Path], dict[str, bytes]]:
    """``files = { name = "path" }`` and ``package_file = "name"``: files added to the context."""
    where, src = f"[steps.{step}]", file.src
    files: dict[str, Path] = {}
    for key, rel in sorted(tomlfile.string_map(raw.get("files"), f"{where}.files", src).items()):
        if not CONTEXT_FILE.match(key) or ".." in key.split("/"):
            raise InputError(f"{where}.files: invalid name {key!r} (a relative path inside the context)", src)
        path = _inside(file.directory / rel, file.repo_root, f"file {key!r} of step {step!r}", src)
        if not path.is_file():
            raise InputError(f"{where}.files: {rel} is not a file", src)
        files[key] = path
    generated: dict[str, bytes] = {}
    package_file = raw.get("package_file")
    if package_file is not None:
        name = tomlfile.string(package_file, f"{where}.package_file", src)
        if not CONTEXT_FILE.match(name) or name in files:
            raise InputError(f"{where}.package_file: invalid or duplicate name {name!r}", src)
        if not file.package_files:
            raise InputError(f"{where}.package_file needs [flavor].package_files", src)
        content = packagefile.step_package_file(file.package_files, step)
        if content is None:
            shown = ", ".join(p.name if p.parent == file.directory else str(p) for p in file.package_files)
            raise InputError(f"step {step!r} has package_file but no build_steps entry named {step!r} in "
                             f"{shown}", src)
        generated[name] = content
    for name in [*files, *generated]:
        if os.path.lexists(context / name):
            raise InputError(f"{where}: {name!r} would replace {context / name} in the context", src)
    return files, generated


def _check_sources(info: dockerfile.DockerfileInfo, context: Path, extra: set[str], path: Path) -> None:
    """Unconverted exaslct input fails here, not at build time: placeholders, missing sources."""
    for line, text in info.placeholders:
        raise InputError(f"line {line}: template placeholder {text} (an exaslct Dockerfile? "
                         "convert it with `slcc import-exaslct`)", path)
    tops = {name.split("/", 1)[0] for name in extra}
    for ref in info.sources:
        first = ref.name
        if first in tops or os.path.lexists(context / first):
            continue
        raise InputError(f"line {ref.line}: {ref.instruction} source {first!r} is not in the step's "
                         "context (a mapping needs --from=<mapping>)", path)


def _check_references(
    file: _FlavorFile, step: str, info: dockerfile.DockerfileInfo, depends: set[str], used_mappings: set[str],
    path: Path,
) -> None:
    for ref in info.references:
        what = f"line {ref.line}: {ref.instruction} names"
        if ref.name == step:
            raise InputError(f"{what} the step itself ({ref.name!r})", path)
        if ref.name in file.step_names and ref.name not in depends:
            raise InputError(f"{what} step {ref.name!r}, which step {step!r} does not declare in depends", path)
        if ref.name in file.mappings and ref.name not in used_mappings:
            raise InputError(f"{what} mapping {ref.name!r}, which step {step!r} does not declare in mappings", path)
