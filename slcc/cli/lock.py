"""`slcc lock`: pin external images and git mappings in slcc.lock."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from slcc.cli.options import load_project, project_options, warn
from slcc.commands import lock as locking
from slcc.engine.docker import DockerEngine


@click.command("lock")
@click.argument("names", nargs=-1)
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 with a diff when slcc.lock is stale or incomplete (for CI).")
@click.option("--update", is_flag=True,
              help="Re-resolve NAMES (images, or git mappings as MAPPING or FLAVOR/MAPPING; default: "
              "every entry) instead of keeping their pins.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@project_options
def lock_cmd(names: tuple[str, ...], check: bool, update: bool, as_json: bool, **kwargs: Any) -> None:
    """Pin every external image to its digest, and every git mapping to a commit, in slcc.lock.

    \b
      slcc lock [FLAVOR...]          add missing pins, keep existing ones
      slcc lock --update [NAME...]   re-resolve all pins, or just these images / git mappings
      slcc lock --check [FLAVOR...]  exit 1 with a diff when the lock is stale (CI)

    Digests come from the registry for registry-hosted images, else from the local image
    store; git mappings are pinned at their tag (else their branch head). Builds in scope
    rel (the default once slcc.lock exists) use exactly these pins. See docs/reproducible-builds.md.
    """
    kwargs["scope"] = "local"  # resolving pins asks the engine, whatever the build scope
    flavors = () if update else names
    project = load_project(kwargs, flavors)
    all_flavors = not flavors
    engine = DockerEngine()
    if check:
        result = locking.check(project, engine, all_flavors, warn)
    else:
        result = locking.lock(project, engine, names if update else None, all_flavors, warn)
    if as_json:
        click.echo(json.dumps({**result.as_json(), "ok": not (check and result.changes)}, indent=2))
    else:
        for line in result.changes:
            click.echo(line)
        state = "stale" if check and result.changes else ("current" if check else
                                                          ("written" if result.written else "unchanged"))
        sources = f", {len(result.lock.sources)} git source(s)" if result.lock.sources else ""
        click.echo(f"{result.path}: {state} ({len(result.lock.images)} image(s){sources})")
    if check and result.changes:
        sys.exit(1)
