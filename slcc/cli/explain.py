"""`slcc explain` (also `slcc plan`): what a build would do and why."""

from __future__ import annotations

import json
from typing import Any

import click

from slcc.cli.options import load_project, project_options, warn
from slcc.commands.build import BuildOptions, plan_build
from slcc.engine.docker import DockerEngine
from slcc.state.store import State


@click.command("explain")
@click.argument("flavor", required=False)
@click.argument("steps", nargs=-1)
@click.option("-g", "--goal", "goals", multiple=True, metavar="STEP", help="Goal step (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@project_options
def explain_cmd(flavor: str | None, steps: tuple[str, ...], goals: tuple[str, ...], as_json: bool,
                **kwargs: Any) -> None:
    """Show what a build would do and why: which files, args or dependencies changed.

    Compares each stale step with the manifest of the last image built for it here.
    Also available as `slcc plan`.
    """
    from slcc.planning import explain  # noqa: PLC0415

    project = load_project(kwargs, [flavor] if flavor else [])
    plan = plan_build(project, BuildOptions(goals=goals or steps), warn, DockerEngine()).plan
    state = State(project.settings.state_dir, warn)
    rows = []
    for s in plan.steps:
        if steps and s.step not in steps:
            continue
        why = explain.reasons(state.last_manifest(s.flavor, s.step), s.hash.manifest()) if s.status == "stale" else []
        rows.append({"flavor": s.flavor, "step": s.step, "status": s.status, "tag": s.tag, "why": why})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        action = "build" if row["status"] == "stale" else row["status"]
        click.echo(f"{row['flavor']}/{row['step']}: {action}  {row['tag']}")
        for reason in row["why"]:
            click.echo(f"    {reason}")
