"""Push hash-tagged images the registry lacks: for `slcc push` and after `slcc build --push`.

Every step the goals need is pushed, not only the goals: a dependency built while the
registry was down would otherwise be rebuilt by every other machine that changes a step
above it. The registry is asked first (one HEAD per tag), so a present tag costs no push.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from slcc.engine.protocol import Engine
from slcc.errors import InputError
from slcc.loading.graph import closure
from slcc.loading.project import Hashes, Project
from slcc.state.store import State

if TYPE_CHECKING:
    from slcc.commands.build import BuildIO

PushStatus = Literal["pushed", "present", "missing"]


@dataclass(frozen=True)
class PushCandidate:
    flavor: str
    step: str
    tag: str


@dataclass(frozen=True)
class PushResult:
    flavor: str
    step: str
    tag: str
    status: PushStatus  # missing: neither the local store nor the registry has it

    def as_json(self) -> dict[str, Any]:
        return {"flavor": self.flavor, "step": self.step, "tag": self.tag, "status": self.status}


@dataclass(frozen=True)
class PushOptions:
    goals: Sequence[str] = ()
    all_steps: bool = False  # every step of the flavors, not only what the goals need
    build_missing: bool = True


def candidates(project: Project, hashes: Hashes, goals: Sequence[str], all_steps: bool) -> list[PushCandidate]:
    """The steps to push, dependencies first: the goals' closure, or every step."""
    wanted = project.goals(goals)
    result = []
    for flavor in project.flavors:
        if flavor.name not in wanted and not all_steps:
            continue
        depends = {s.name: s.depends for s in flavor.steps.values()}
        chosen = set(flavor.steps) if all_steps else closure(wanted[flavor.name], depends)
        repository = project.settings.repository
        result += [PushCandidate(flavor.name, s, hashes[flavor.name][s].tag(repository))
                   for s in flavor.steps if s in chosen]
    return result


def push_lacking(items: Sequence[PushCandidate], local: set[str], engine: Engine,
                 echo: Callable[[str], None]) -> list[PushResult]:
    """Push every candidate that is local and not in the registry; report each one."""
    present = engine.registry_tags([c.tag for c in items])
    results = []
    lacking = [c for c in items if c.tag not in present and c.tag in local]
    for number, item in enumerate(lacking, 1):
        echo(f"pushing {item.tag} ({number}/{len(lacking)})")
        engine.push(item.tag)
    for item in items:
        status: PushStatus = "present" if item.tag in present else "pushed" if item.tag in local else "missing"
        results.append(PushResult(item.flavor, item.step, item.tag, status))
    return results


def local_tags(project: Project, engine: Engine) -> set[str]:
    return engine.local_tags(f"{project.settings.repository}/{f.image_name}" for f in project.flavors)


def push(project: Project, options: PushOptions, io: BuildIO) -> list[PushResult]:
    """`slcc push`: build what exists nowhere (unless told not to), then push what the registry lacks."""
    if project.settings.registry_host is None:
        raise InputError(f"nothing to push to: the image repository {project.settings.repository!r} names "
                         "no registry (set [registry] repository, e.g. 127.0.0.1:5000/slcc)", "--repository")
    hashes = project.hash_all()
    items = candidates(project, hashes, options.goals, options.all_steps)
    missing = _exist_nowhere(items, local_tags(project, io.engine), io.engine)
    if missing and options.build_missing:
        _build_missing(project, missing, io)
    with State(project.settings.state_dir).build_lock(io.echo):  # a clean must not delete what we push
        return push_lacking(items, local_tags(project, io.engine), io.engine, io.echo)


def _exist_nowhere(items: Sequence[PushCandidate], local: set[str], engine: Engine) -> list[PushCandidate]:
    not_local = [c for c in items if c.tag not in local]
    in_registry = engine.registry_tags([c.tag for c in not_local])
    return [c for c in not_local if c.tag not in in_registry]


def _build_missing(project: Project, missing: Sequence[PushCandidate], io: BuildIO) -> None:
    from slcc.commands.build import BuildOptions, build  # noqa: PLC0415 - build imports this module

    by_flavor: Mapping[str, list[str]] = {c.flavor: [m.step for m in missing if m.flavor == c.flavor] for c in missing}
    for name, steps in by_flavor.items():
        names = ", ".join(f"{name}/{s}" for s in steps)
        io.echo(f"building {names} first (in neither the local store nor the registry)")
        build(replace(project, flavors=[project.flavor(name)]), BuildOptions(goals=steps), io)
