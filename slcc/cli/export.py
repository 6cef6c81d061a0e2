"""`slcc export`: a flavor's release filesystem as an archive plus its checksum."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from slcc.cli.options import build_io, load_project, progress_option, project_options
from slcc.cli.report import show_report
from slcc.commands.build import BuildFailed
from slcc.vocabulary import Progress


@click.command("export")
@click.argument("flavor", required=False)
@click.option("-g", "--goal", metavar="STEP", help="Step to export; default: the flavor's first goal.")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the archive and its checksum; default: .slcc/export.")
@progress_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@project_options
def export_cmd(flavor: str | None, goal: str | None, output_dir: Path | None, progress: Progress, as_json: bool,
               **kwargs: Any) -> None:
    """Export FLAVOR's release filesystem as FLAVOR-STEP-HASH.tar.gz plus a .sha512sum file.

    A flavor that declares platforms gets one archive per platform, FLAVOR-STEP-PLATFORM-HASH.tar.gz
    (PLATFORM: x64, arm64 as in exaslct, else e.g. arm-v7), and --json prints a list.

    Builds what is stale first. The archive is named by the goal step's content hash, so
    when it exists and matches its checksum file nothing is built or written. The layout
    is exaslct's: the contents of dev/, proc/ and sys/ and the directories var/cache/apt,
    var/lib/apt and var/lib/dpkg are left out, etc/resolv.conf and etc/hosts become links to
    /conf/, and exasol-manifest.json is appended (docs/export-and-test.md).
    """
    from slcc.commands.export import ExportOptions, export  # noqa: PLC0415 - this block stays self-contained

    project = load_project(kwargs, [flavor] if flavor else [])
    options = ExportOptions(goal, output_dir, progress)
    try:
        results = export(project, options, build_io())
    except BuildFailed as exc:
        show_report(exc.report, as_json)
        raise
    if as_json:
        # One object per archive; a list only for flavors that declare platforms.
        data = [r.as_json() for r in results]
        click.echo(json.dumps(data if results[0].platform else data[0], indent=2))
        return
    for result in results:
        state = "fresh (cached, nothing built)" if result.cached else "exported"
        click.echo(f"{state}: {result.archive} ({result.size / 1e6:.1f} MB, {result.seconds:.2f} s)")
