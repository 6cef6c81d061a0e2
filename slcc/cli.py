"""The slcc command line. Thin: parse options, call the library, print results.

Results go to stdout, progress and warnings to stderr. Every SlccError becomes one
``slcc: error: ...`` line and its exit code (2 for bad input); no tracebacks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from slcc import __version__, emit, render
from slcc.atomic import write_text_atomic
from slcc.errors import SlccError
from slcc.project import Project, open_project

F = TypeVar("F", bound=Callable[..., Any])


def warn(message: str) -> None:
    click.echo(f"slcc: warning: {message}", err=True)


class SlccGroup(click.Group):
    """Turns slcc's errors into one line and an exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
        except click.exceptions.Abort:
            click.echo("slcc: interrupted", err=True)
            sys.exit(130)
        except SlccError as exc:
            click.echo(f"slcc: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("slcc: interrupted", err=True)
            sys.exit(130)


def project_options(func: F) -> F:
    """Options shared by every command that loads flavors."""
    options = [
        click.option("-C", "--repo", type=click.Path(file_okay=False, path_type=Path),
                     help="Repository root (default: nearest directory with slcc.toml or flavors/)."),
        click.option("--repository", metavar="REPO",
                     help="Image repository for hash tags, e.g. 127.0.0.1:5000/slcc [env SLCC_REPOSITORY]."),
        click.option("--cache", "cache", type=click.Choice(["registry", "local", "inline", "none"]),
                     help="Build cache backend [env SLCC_CACHE]; default: registry when the repository "
                     "names one, else local."),
        click.option("--ca-bundle", metavar="FILE",
                     help="CA bundle passed to builds as BuildKit secret 'ca' ('none' to disable; "
                     "default: the host's bundle) [env SLCC_CA_BUNDLE]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def load(ctx_kwargs: dict[str, Any], flavors: Sequence[str]) -> Project:
    overrides = {
        "repository": ctx_kwargs.pop("repository", None),
        "cache": ctx_kwargs.pop("cache", None),
        "ca_bundle": ctx_kwargs.pop("ca_bundle", None),
    }
    return open_project(ctx_kwargs.pop("repo", None), flavors, overrides, warn)


@click.group(cls=SlccGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="slcc")
def main() -> None:
    """slcc - the script language container compiler.

    A flavor (flavors/NAME/flavor.toml plus one directory per step) is a graph of
    Dockerfiles. slcc hashes every step (BLAKE3 over files, args and dependency hashes),
    compiles the graph into a docker buildx bake file with hash tags, and builds only
    what is stale.

    \b
    Typical use:
      slcc build python3            build what changed, skip what is fresh
      slcc hash python3             show each step's hash and tag
      slcc graph python3 -f mermaid the step graph
      slcc emit-bake python3        bake file for other CI systems (bake/python3.hcl)
    """


@main.command("emit-bake")
@click.argument("flavors", nargs=-1)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the bake file ('-' for stdout). Default: bake/<flavors>.hcl.")
@project_options
def emit_bake_cmd(flavors: tuple[str, ...], output: Path | None, **kwargs: Any) -> None:
    """Write a bake file for FLAVORS (default: all) that runs without slcc.

    Run it from the repository root: docker buildx bake -f bake/NAME.hcl [TARGET...].
    Targets are named FLAVOR_STEP; a group per flavor holds its goals, and "default"
    holds every flavor group.
    """
    project = load(kwargs, flavors)
    text = emit.emit_bake(emit.EmitRequest(project.flavors, project.hash_all(), project.settings,
                                           revision=project.revision()))
    if output is not None and str(output) == "-":
        click.echo(text, nl=False)
        return
    path = output or project.settings.bake_dir / ("-".join(f.name for f in project.flavors) + ".hcl")
    write_text_atomic(path, text)
    click.echo(str(path))


@main.command("hash")
@click.argument("flavors", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per step.")
@project_options
def hash_cmd(flavors: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Show each step's content hash and image tag."""
    project = load(kwargs, flavors)
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


@main.command("graph")
@click.argument("flavors", nargs=-1)
@click.option("-f", "--format", "fmt", type=click.Choice(render.GRAPH_FORMATS), default="text", show_default=True)
@click.option("--hashes", is_flag=True, help="Include step hashes (json format).")
@project_options
def graph_cmd(flavors: tuple[str, ...], fmt: str, hashes: bool, **kwargs: Any) -> None:
    """Show the step graph of FLAVORS: text, Graphviz dot, Mermaid or JSON."""
    project = load(kwargs, flavors)
    click.echo(render.graph(project.flavors, fmt, project.hash_all() if hashes else None), nl=False)

