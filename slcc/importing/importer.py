"""Plan the import of exaslct flavors: every file to write and every rewrite, in memory.

Nothing here writes. The plan is complete before the first byte goes to disk, so a
refusal anywhere leaves the destination untouched.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slcc.errors import InputError
from slcc.importing import packages
from slcc.importing.buildsteps import ExaslctStep, read_build_steps
from slcc.importing.rewrite import Rewrite, StepContext, rewrite_dockerfile
from slcc.importing.tomlwrite import FlavorToml, MappingOut, StepOut, render_flavor_toml

MAPPING_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LANGUAGE_DEFINITIONS = "language_definitions.json"
_SKIP = {"__pycache__"}


@dataclass(frozen=True)
class OutFile:
    """One file of the result: content, or a symlink target."""

    path: str  # relative to DEST, '/' separators
    data: bytes = b""
    link: str | None = None
    executable: bool = False


@dataclass(frozen=True)
class FlavorSummary:
    name: str
    source: str  # build_steps.py, relative to SOURCE
    steps: int
    edges: int


@dataclass
class ImportPlan:
    files: dict[str, OutFile] = field(default_factory=dict)
    rewrites: list[Rewrite] = field(default_factory=list)
    flavors: list[FlavorSummary] = field(default_factory=list)

    def add(self, out: OutFile) -> None:
        old = self.files.get(out.path)
        if old is not None and old != out:
            raise InputError(f"two different files would be written to {out.path}")
        self.files[out.path] = out


def source_flavors(source: Path) -> list[str]:
    root = source / "flavors"
    if not root.is_dir():
        raise InputError("not an exaslct checkout: no flavors/ directory", source)
    names = sorted(p.name for p in root.iterdir() if (p / "flavor_base" / "build_steps.py").is_file())
    if not names:
        raise InputError("no exaslct flavors (flavors/*/flavor_base/build_steps.py)", root)
    return names


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _inside(path: Path, root: Path, what: str, where: str) -> Path:
    """``path`` normalised lexically (as exaslct sees it from the checkout root)."""
    normal = Path(os.path.normpath(path))
    if not normal.is_relative_to(root):
        raise InputError(f"{what} {path} is outside the checkout", where)
    return normal


def _read_file(path: Path) -> OutFile:
    st = path.stat()
    return OutFile("", path.read_bytes(), None, bool(st.st_mode & 0o100))


def _copy_tree(plan: ImportPlan, source: Path, src: Path, dest_rel: str, where: str) -> bool:
    """Copy ``src`` (file or directory) to DEST/``dest_rel``; links inside the checkout are
    copied as links together with what they point to. True if the tree holds a symlink."""
    queue: list[tuple[Path, str]] = [(src, dest_rel)]
    seen: set[str] = set()
    has_link = False
    while queue:
        path, rel = queue.pop()
        if rel in seen:
            continue
        seen.add(rel)
        if path.is_symlink():
            has_link = has_link or rel != dest_rel  # a linked root is resolved anyway
            target = os.readlink(path)
            resolved = _inside(path.parent / target, source, "symlink target of", f"{_rel(path, source)}")
            if not resolved.exists():
                raise InputError(f"dangling symlink -> {target}", _rel(path, source))
            plan.add(OutFile(rel, link=target))
            queue.append((resolved, _rel(resolved, source)))
        elif path.is_dir():
            for child in sorted(path.iterdir()):
                if child.name not in _SKIP:
                    queue.append((child, f"{rel}/{child.name}"))
        elif path.is_file():
            data = _read_file(path)
            plan.add(OutFile(rel, data.data, None, data.executable))
        else:
            raise InputError("not a file or directory", where)
    return has_link


@dataclass(frozen=True)
class _Flavor:
    name: str
    entry: Path  # SOURCE/flavors/<name>, maybe a symlink
    real: Path  # where its files are
    source: Path


def _step_dir(flavor: _Flavor, step: ExaslctStep) -> Path:
    return flavor.real / step.path_in_flavor / step.name if step.path_in_flavor else flavor.real / step.name


def _language_definition(path: Path, where: str) -> None:
    """exaslct validates the file against schema version 2 before building; so do we."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"invalid language definition: {exc}", path) from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != 2:
        raise InputError(f"language definition schema_version is {version!r}, exaslct supports 2", where)


@dataclass
class _FlavorState:
    """What the steps of one flavor add up to while they are planned."""

    flavor: _Flavor
    dest: Path
    by_class: dict[str, str]
    package_entries: set[str]
    shown: str  # build_steps.py as the report names it
    mappings: dict[str, MappingOut] = field(default_factory=dict)
    dockerfiles: dict[Path, tuple[str, list[Rewrite]]] = field(default_factory=dict)


def _step_mappings(plan: ImportPlan, state: _FlavorState, step: ExaslctStep, where: str) -> tuple[
        list[str], dict[str, str]]:
    """Directory mappings become named contexts, file mappings files in the context."""
    source = state.flavor.source
    dest_flavor_dir = state.dest / "flavors" / state.flavor.name
    dir_maps: list[str] = []
    files: dict[str, str] = {}
    for dest_name, src_text in step.mappings:
        if os.path.isabs(src_text):
            raise InputError(f"mapping {dest_name!r}: absolute path {src_text!r}", where)
        src = _inside(source / src_text, source, f"mapping {dest_name!r}:", where)
        if not src.exists():
            raise InputError(f"mapping {dest_name!r}: {src_text} does not exist", where)
        has_link = _copy_tree(plan, source, src, _rel(src, source), where)
        rel_from_flavor = os.path.relpath(state.dest / _rel(src, source), dest_flavor_dir)
        if src.is_file():
            if "/" in dest_name:
                raise InputError(f"mapping destination {dest_name!r} has a '/'", where)
            files[dest_name] = rel_from_flavor
            continue
        if not MAPPING_NAME.match(dest_name) or dest_name in state.by_class.values():
            raise InputError(f"mapping {dest_name!r} cannot be a named context (needs a lowercase name "
                             "matching [a-z0-9][a-z0-9_-]* that is not a step name)", where)
        wanted = MappingOut(dest_name, rel_from_flavor, has_link)
        if state.mappings.setdefault(dest_name, wanted) != wanted:
            raise InputError(f"mapping {dest_name!r} maps to different paths in different steps", where)
        dir_maps.append(dest_name)
    return dir_maps, files


def _plan_step(plan: ImportPlan, state: _FlavorState, step: ExaslctStep) -> StepOut:
    flavor = state.flavor
    where = f"{state.shown}:{step.line}"
    directory = _step_dir(flavor, step)
    if not (directory / "Dockerfile").is_file():
        raise InputError(f"step {step.name!r}: no Dockerfile in {directory}", where)
    dir_maps, files = _step_mappings(plan, state, step, where)
    if step.language_definition:
        lang = directory.parent / step.language_definition
        _language_definition(lang, where)
        files[LANGUAGE_DEFINITIONS] = _rel(lang, flavor.real)
    package_file = f"{step.name}_packages.yml" if step.name in state.package_entries else ""
    ctx = StepContext(
        step=step.name,
        requires={key: state.by_class[cls] for key, cls in step.requires},
        dir_mappings=frozenset(dir_maps),
        root_files=frozenset([*files, *([package_file] if package_file else [])]),
    )
    shown_dockerfile = f"flavors/{flavor.name}/{_rel(directory / 'Dockerfile', flavor.real)}"
    text = (directory / "Dockerfile").read_text(encoding="utf-8")
    state.dockerfiles[(directory / "Dockerfile").resolve()] = rewrite_dockerfile(text, ctx, shown_dockerfile)
    return StepOut(
        name=step.name,
        context=_rel(directory, flavor.real),
        depends=tuple(sorted({state.by_class[cls] for _, cls in step.requires})),
        mappings=tuple(sorted(dir_maps)),
        files=dict(sorted(files.items())),
        package_file=package_file,
    )


def _plan_flavor(plan: ImportPlan, flavor: _Flavor, dest: Path) -> None:
    shown = f"flavors/{flavor.name}/flavor_base/build_steps.py"
    steps = read_build_steps(flavor.real / "flavor_base" / "build_steps.py")
    package_sources = packages.package_sources(flavor.real)
    state = _FlavorState(flavor, dest, {s.class_name: s.name for s in steps},
                         packages.step_entries(flavor.real, package_sources), shown)
    step_out = [_plan_step(plan, state, step) for step in steps]
    flavor_dest = f"flavors/{flavor.name}"
    _copy_flavor(plan, flavor, flavor_dest, state.dockerfiles)
    for _text, rewrites in state.dockerfiles.values():
        plan.rewrites.extend(rewrites)
    for mapping in state.mappings.values():
        if mapping.follow_symlinks:
            plan.rewrites.append(Rewrite(shown, 0, "mapping-follows-symlinks", mapping.name,
                                         f"{mapping.name}: follow_symlinks = true"))
    if flavor.entry.is_symlink():
        plan.rewrites.append(Rewrite(f"flavors/{flavor.name}", 0, "symlinked-flavor-dir",
                                     f"-> {os.readlink(flavor.entry)}", "a directory with the same name"))
    toml = FlavorToml(flavor.name, _description(flavor.real), shown,
                      ["release"] if "release" in state.by_class.values() else [],
                      package_sources, dict(sorted(state.mappings.items())), step_out)
    plan.add(OutFile(f"{flavor_dest}/flavor.toml", render_flavor_toml(toml).encode()))
    plan.rewrites.append(Rewrite(shown, 0, "build-steps-to-flavor-toml", "build_steps.py",
                                 f"{flavor_dest}/flavor.toml"))
    plan.flavors.append(FlavorSummary(flavor.name, shown, len(steps), sum(len(s.depends) for s in step_out)))


def _description(real: Path) -> str:
    path = real / "FLAVOR_DESCRIPTION.md"
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = line.strip().lstrip("#").strip()
            if text:
                return text
    return ""


def _copy_flavor(plan: ImportPlan, flavor: _Flavor, flavor_dest: str,
                 dockerfiles: dict[Path, tuple[str, list[Rewrite]]]) -> None:
    """The flavor's own files (build_steps.py aside), Dockerfiles in their rewritten form."""
    for dirpath, dirnames, filenames in os.walk(flavor.real):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            rel = f"{flavor_dest}/{_rel(path, flavor.real)}"
            if _rel(path, flavor.real) == "flavor_base/build_steps.py":
                continue
            if path.is_symlink():
                plan.add(OutFile(rel, link=os.readlink(path)))
                continue
            rewritten = dockerfiles.get(path.resolve())
            if rewritten is not None:
                plan.add(OutFile(rel, rewritten[0].encode("utf-8")))
                continue
            data = _read_file(path)
            plan.add(OutFile(rel, data.data, None, data.executable))


def plan_import(source: Path, names: Sequence[str], dest: Path) -> ImportPlan:
    source = Path(os.path.abspath(source))
    dest = Path(os.path.abspath(dest))
    if not source.is_dir():
        raise InputError("not a directory", source)
    if dest == source or dest.is_relative_to(source / "flavors"):
        raise InputError("--into must be another directory than the exaslct checkout (it stays as it is)", dest)
    available = source_flavors(source)
    chosen = list(dict.fromkeys(names)) or available
    plan = ImportPlan()
    for name in chosen:
        if name not in available:
            raise InputError(f"no exaslct flavor {name!r} (flavors: {', '.join(available)})", source / "flavors")
        entry = source / "flavors" / name
        _plan_flavor(plan, _Flavor(name, entry, entry.resolve(), source), dest)
    lowered: dict[str, str] = {}
    for summary in plan.flavors:
        other = lowered.setdefault(summary.name.lower(), summary.name)
        if other != summary.name:
            raise InputError(f"flavors {other!r} and {summary.name!r} differ only in case; image names are "
                             "lower case, so they would collide", source / "flavors")
    return plan
