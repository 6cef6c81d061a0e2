"""Write the flavor.toml of an imported flavor (deterministic text, stable key order)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class MappingOut:
    name: str
    path: str  # relative to the flavor directory
    follow_symlinks: bool


@dataclass(frozen=True)
class StepOut:
    name: str
    context: str  # relative to the flavor directory
    depends: tuple[str, ...]
    mappings: tuple[str, ...]
    files: Mapping[str, str]  # name in the context -> path relative to the flavor directory
    package_file: str  # "" for none


@dataclass(frozen=True)
class FlavorToml:
    name: str
    description: str
    source: str
    goals: Sequence[str]
    package_files: Sequence[str]
    mappings: Mapping[str, MappingOut]
    steps: Sequence[StepOut]


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _key(text: str) -> str:
    return text if _BARE.match(text) else _s(text)


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_s(i) for i in items) + "]"


def _inline(items: Mapping[str, str]) -> str:
    return "{ " + ", ".join(f"{_key(k)} = {_s(v)}" for k, v in items.items()) + " }"


def render_flavor_toml(flavor: FlavorToml) -> str:
    lines = [f"# Imported from {flavor.source} by `slcc import-exaslct`.", "", "[flavor]"]
    if flavor.description:
        lines.append(f"description = {_s(flavor.description)}")
    if flavor.goals:
        lines.append(f"goals = {_list(flavor.goals)}")
    if flavor.package_files:
        lines.append(f"package_files = {_list(flavor.package_files)}")
    if flavor.mappings:
        lines += ["", "[mappings]"]
        for m in flavor.mappings.values():
            value = f"{{ path = {_s(m.path)}, follow_symlinks = true }}" if m.follow_symlinks else _s(m.path)
            lines.append(f"{_key(m.name)} = {value}")
    for step in flavor.steps:
        lines += ["", f"[steps.{_key(step.name)}]", f"context = {_s(step.context)}"]
        if step.depends:
            lines.append(f"depends = {_list(step.depends)}")
        if step.mappings:
            lines.append(f"mappings = {_list(step.mappings)}")
        if step.files:
            lines.append(f"files = {_inline(step.files)}")
        if step.package_file:
            lines.append(f"package_file = {_s(step.package_file)}")
    return "\n".join(lines) + "\n"
