"""`slcc emit-bake`: a bake file that runs without slcc."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from slcc.cli.options import load_project, project_options
from slcc.loading.config import check_dir_path


@click.command("emit-bake")
@click.argument("flavors", nargs=-1)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the bake file ('-' for stdout). Default: bake/<flavors>.hcl.")
@project_options
def emit_bake_cmd(flavors: tuple[str, ...], output: Path | None, **kwargs: Any) -> None:
    """Write a bake file for FLAVORS (default: all) that runs without slcc.

    Run it from the repository root: docker buildx bake -f bake/NAME.hcl [TARGET...].
    Targets are named FLAVOR_STEP; a group per flavor holds its goals, and "default"
    holds every flavor group.

    \b
    Bake variables a CI sets in the environment (defaults: this command's settings):
      SLCC_REPOSITORY  where hash-tagged images go, e.g. ghcr.io/acme/slcc
      SLCC_CACHE       registry | local | inline | gha | none
    e.g. SLCC_REPOSITORY=ghcr.io/acme/slcc SLCC_CACHE=gha docker buildx bake -f bake/python3.hcl --push
    (see docs/scale-out.md).
    """
    from slcc.emitting import emit  # noqa: PLC0415 - command modules load what they need: `slcc build` stays small
    from slcc.state import contexts  # noqa: PLC0415
    from slcc.state.atomic import write_text_atomic, write_user_file  # noqa: PLC0415

    project = load_project(kwargs, flavors)
    to_stdout = output is not None and str(output) == "-"
    if output is not None and not to_stdout:
        check_dir_path(output.absolute().parent, "output", f"-o {output}")
    elif output is None:
        check_dir_path(project.settings.bake_dir, "bake directory", project.settings.bake_dir)
    # No revision label here: the file must be byte-identical for identical flavor inputs.
    hashes = project.hash_all()
    text = emit.emit_bake(emit.EmitRequest(project.flavors, hashes, project.settings))
    contexts.materialize(project.settings, project.flavors, hashes)
    if to_stdout:
        click.echo(text, nl=False)
    elif output is not None:
        write_user_file(output, text)
        click.echo(str(output))
    else:
        path = project.settings.bake_dir / emit.default_file_name([f.name for f in project.flavors])
        write_text_atomic(path, text)
        click.echo(str(path))
