"""`slcc push`: the hash-tagged images the registry lacks."""

from __future__ import annotations

import json
from typing import Any

import click

from slcc.cli.options import build_io, load_project, project_options
from slcc.cli.report import print_table
from slcc.errors import SlccError


@click.command("push")
@click.argument("flavors", nargs=-1)
@click.option("-g", "--goal", "goals", multiple=True, metavar="STEP",
              help="Goal step (repeatable); default: the flavor's goals.")
@click.option("--all", "all_steps", is_flag=True, help="Every step of the flavors, not only what the goals need.")
@click.option("--no-build", is_flag=True, help="Report images that exist nowhere instead of building them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image on stdout.")
@project_options
def push_cmd(flavors: tuple[str, ...], goals: tuple[str, ...], all_steps: bool, no_build: bool, as_json: bool,
             **kwargs: Any) -> None:
    """Push the hash-tagged images of FLAVORS (default: all) that the registry lacks.

    Covers the goals and every step they need (with --all: every step), so other machines
    reuse them instead of rebuilding. Images only in the local store are pushed; images in
    neither place are built first (or, with --no-build, reported and exit 1). Credentials
    come from the docker client config: run `docker login HOST` first when the registry
    needs one.
    """
    from slcc.commands.push import PushOptions, push  # noqa: PLC0415 - keeps `slcc --help` fast

    project = load_project(kwargs, flavors)
    results = push(project, PushOptions(goals, all_steps, not no_build), build_io())
    if as_json:
        click.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        print_table([(f"{r.flavor}/{r.step}", r.status, r.tag) for r in results], ("STEP", "STATUS", "TAG"))
    missing = [f"{r.flavor}/{r.step}" for r in results if r.status == "missing"]
    if missing:
        raise SlccError(f"not pushed, in neither the local store nor the registry: {', '.join(missing)}")
