"""Render flavor graphs as text, Graphviz dot, Mermaid or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from slcc.hashing.stephash import StepHash
from slcc.model import Flavor

GRAPH_FORMATS = ("text", "dot", "mermaid", "json")


def _edges(flavor: Flavor) -> list[tuple[str, str, str]]:
    """(from, to, kind) with kind "step" or "mapping"; from is what ``to`` uses."""
    edges = []
    for step in flavor.steps.values():
        edges += [(dep, step.name, "step") for dep in step.depends]
        edges += [(m, step.name, "mapping") for m in step.mappings]
    return edges


def graph(flavors: Sequence[Flavor], fmt: str, hashes: Mapping[str, Mapping[str, StepHash]] | None = None) -> str:
    if fmt == "json":
        return _json(flavors, hashes)
    if fmt == "dot":
        return _dot(flavors)
    if fmt == "mermaid":
        return _mermaid(flavors)
    return _text(flavors)


def _json(flavors: Sequence[Flavor], hashes: Mapping[str, Mapping[str, StepHash]] | None) -> str:
    data = [
        {
            "flavor": f.name,
            "goals": list(f.goals),
            "mappings": sorted(f.mappings),
            "steps": [
                {
                    "name": s.name,
                    "depends": list(s.depends),
                    "mappings": list(s.mappings),
                    **({"hash": hashes[f.name][s.name].digest} if hashes else {}),
                }
                for s in f.steps.values()
            ],
        }
        for f in flavors
    ]
    return json.dumps(data, indent=2) + "\n"


def _dot(flavors: Sequence[Flavor]) -> str:
    lines = ["digraph slcc {", "  rankdir=LR;"]
    for f in flavors:
        lines.append(f'  subgraph "cluster_{f.name}" {{ label="{f.name}";')
        lines += [f'    "{f.name}/{m}" [shape=folder,label="{m}"];' for m in f.mappings]
        for s in f.steps.values():
            shape = "doubleoctagon" if s.name in f.goals else "box"
            lines.append(f'    "{f.name}/{s.name}" [shape={shape},label="{s.name}"];')
        for a, b, kind in _edges(f):
            style = " [style=dashed]" if kind == "mapping" else ""
            lines.append(f'    "{f.name}/{a}" -> "{f.name}/{b}"{style};')
        lines.append("  }")
    return "\n".join([*lines, "}"]) + "\n"


def _mermaid(flavors: Sequence[Flavor]) -> str:
    lines = ["flowchart LR"]
    for f in flavors:
        ident = f.name.replace(".", "_").replace("-", "_")
        lines.append(f"  subgraph {ident}[{f.name}]")
        lines += [f"    {ident}__{m}[/{m}/]" for m in f.mappings]
        for s in f.steps.values():
            shape = f"(({s.name}))" if s.name in f.goals else f"[{s.name}]"
            lines.append(f"    {ident}__{s.name}{shape}")
        for a, b, kind in _edges(f):
            lines.append(f"    {ident}__{a} {'-.->' if kind == 'mapping' else '-->'} {ident}__{b}")
        lines.append("  end")
    return "\n".join(lines) + "\n"


def _text(flavors: Sequence[Flavor]) -> str:
    lines = []
    for f in flavors:
        lines.append(f"{f.name}: {f.description}".rstrip(": ") + f"  (goals: {', '.join(f.goals)})")
        for s in f.steps.values():
            uses = [*s.depends, *(f"@{m}" for m in s.mappings)]
            goal = " *" if s.name in f.goals else ""
            lines.append(f"  {s.name}{goal}" + (f"  <- {', '.join(uses)}" if uses else ""))
    return "\n".join(lines) + "\n"
