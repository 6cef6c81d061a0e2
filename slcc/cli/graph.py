"""`slcc graph`: the step graph as text, dot, Mermaid or JSON."""

from __future__ import annotations

from typing import Any

import click

from slcc.cli.options import load_project, project_options
from slcc.output import render


@click.command("graph")
@click.argument("flavors", nargs=-1)
@click.option("-f", "--format", "fmt", type=click.Choice(render.GRAPH_FORMATS), default="text", show_default=True)
@click.option("--hashes", is_flag=True, help="Include step hashes (json format).")
@project_options
def graph_cmd(flavors: tuple[str, ...], fmt: str, hashes: bool, **kwargs: Any) -> None:
    """Show the step graph of FLAVORS: text, Graphviz dot, Mermaid or JSON."""
    project = load_project(kwargs, flavors)
    click.echo(render.graph(project.flavors, fmt, project.hash_all() if hashes else None), nl=False)
