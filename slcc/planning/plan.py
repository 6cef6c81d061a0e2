"""Decide what to build: pure, given the hashes and which tags already exist."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from slcc.hashing.stephash import StepHash
from slcc.loading.graph import closure, dependents
from slcc.model import Flavor
from slcc.vocabulary import Freshness, StepKey


@dataclass(frozen=True)
class PlannedStep:
    flavor: str
    step: str
    hash: StepHash
    tag: str
    status: Freshness
    forced: bool = False

    @property
    def key(self) -> StepKey:
        return StepKey(self.flavor, self.step)


@dataclass(frozen=True)
class Plan:
    steps: tuple[PlannedStep, ...]  # dependency order; only steps the goals need
    _index: Mapping[StepKey, PlannedStep] = field(init=False, repr=False, compare=False)
    stale: frozenset[StepKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: get() is called inside loops over the steps.
        object.__setattr__(self, "_index", {s.key: s for s in self.steps})
        object.__setattr__(self, "stale", frozenset(s.key for s in self.steps if s.status == "stale"))

    def get(self, key: StepKey) -> PlannedStep:
        return self._index[key]


def forced_steps(flavor: Flavor, goals: Sequence[str], force: bool, force_from: Sequence[str]) -> set[str]:
    """Steps to rebuild regardless of existing images: all the goals need, or those from STEPs on."""
    depends = {s.name: s.depends for s in flavor.steps.values()}
    needed = closure(goals, depends)
    if force_from:
        return dependents([s for s in force_from if s in flavor.steps], depends) & needed
    return needed if force else set()


def make_plan(
    flavors: Sequence[Flavor],
    hashes: Mapping[str, Mapping[str, StepHash]],
    goals: Mapping[str, Sequence[str]],
    repository: str,
    local: Collection[str],
    registry: Collection[str],
    forced: Mapping[str, Collection[str]] | None = None,
) -> Plan:
    """Walk from the goals: a fresh step needs nothing below it; a stale one needs its deps.

    So an intermediate image that was pruned is not rebuilt while the images that use it
    still exist (exaslct's "shortcut build").
    """
    forced = forced or {}
    chosen: dict[StepKey, PlannedStep] = {}
    for flavor in flavors:
        if flavor.name not in goals:
            continue
        stack = list(goals[flavor.name])
        while stack:
            name = stack.pop()
            if (flavor.name, name) in chosen:
                continue
            step_hash = hashes[flavor.name][name]
            tag = step_hash.tag(repository)
            force = name in forced.get(flavor.name, ())
            status: Freshness
            if force:
                status = "stale"
            elif tag in local:
                status = "fresh-local"
            elif tag in registry:
                status = "fresh-registry"
            else:
                status = "stale"
            chosen[StepKey(flavor.name, name)] = PlannedStep(flavor.name, name, step_hash, tag, status, force)
            if status == "stale":
                stack.extend(flavor.steps[name].depends)
    order = [StepKey(f.name, s) for f in flavors for s in f.steps]
    return Plan(tuple(chosen[k] for k in order if k in chosen))
