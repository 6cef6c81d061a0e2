"""`slcc import-exaslct`: exaslct flavors turned into an slcc repository."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("import-exaslct")
@click.argument("source", type=click.Path(file_okay=False, path_type=Path))
@click.argument("flavors", nargs=-1)
@click.option("--into", "dest", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The slcc repository to write (created if missing; other files in it are kept).")
@click.option("--check", is_flag=True, help="Report what would be written or changed; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_exaslct_cmd(source: Path, flavors: tuple[str, ...], dest: Path, check: bool, as_json: bool) -> None:
    """Import exaslct flavors from the checkout SOURCE into the slcc repository DEST.

    FLAVORS default to every SOURCE/flavors/*/flavor_base/build_steps.py. build_steps.py
    is read, never run: methods must return constants. Each flavor becomes
    DEST/flavors/NAME/flavor.toml with its Dockerfiles rewritten ({{dep}} placeholders,
    COPY paths of exaslct's assembled context); mapped directories and files are copied
    to the same paths in DEST. Every rewrite is reported with file and line. Nothing is
    written if any flavor is refused; a second run changes nothing. See
    docs/importing-exaslct.md.

    \b
      slcc import-exaslct ../script-languages-release --into .
      slcc import-exaslct ../slr standard-EXASOL-all --into . --check
    """
    from slcc.commands.import_exaslct import import_exaslct  # noqa: PLC0415 - keeps `slcc --help` fast

    result = import_exaslct(source, flavors, dest, check)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    for rewrite in result.plan.rewrites:
        where = f"{rewrite.file}:{rewrite.line}" if rewrite.line else rewrite.file
        click.echo(f"{where}: {rewrite.kind}: {rewrite.before} -> {rewrite.after}")
    for flavor in result.plan.flavors:
        click.echo(f"flavor {flavor.name}: {flavor.steps} steps, {flavor.edges} dependencies")
    verb = "would write" if check else "wrote"
    click.echo(f"{verb} {len(result.created)} new and {len(result.changed)} changed files "
               f"({result.unchanged} unchanged) in {dest} in {result.seconds:.2f} s")
