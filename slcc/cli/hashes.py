"""`slcc hash`: each step's content hash and image tag."""

from __future__ import annotations

import json
from typing import Any

import click

from slcc.cli.options import load_project, project_options


@click.command("hash")
@click.argument("flavors", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per step.")
@project_options
def hash_cmd(flavors: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Show each step's content hash and image tag."""
    project = load_project(kwargs, flavors)
    hashes = project.hash_all()
    rows = [
        {"flavor": f, "step": s, "hash": h.digest, "tag": h.tag(project.settings.repository)}
        for f, steps in hashes.items()
        for s, h in steps.items()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(f"{r['flavor']}/{r['step']}") for r in rows)
    for r in rows:
        click.echo(f"{r['flavor'] + '/' + r['step']:<{width}}  {r['tag']}")
