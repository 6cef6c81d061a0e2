"""`slcc activation`: the SQL that activates a flavor's languages in BucketFS."""

from __future__ import annotations

import json
from typing import Any

import click

from slcc.cli.options import load_project, project_options


@click.command("activation")
@click.argument("flavor")
@click.option("--bucketfs-name", required=True, help="BucketFS service name, e.g. bfsdefault.")
@click.option("--bucket-name", required=True, help="Bucket name, e.g. default.")
@click.option("--container-name", required=True,
              help="Name the exported archive is uploaded as (without .tar.gz): the directory it unpacks to.")
@click.option("--path-in-bucket", default="", help="Directory in the bucket (default: the bucket root).")
@click.option("--source", "kind", type=click.Choice(["auto", "template", "json"]), default="auto",
              show_default=True,
              help="template: flavor_base/language_definition (exaslct's generate-language-activation); "
              "json: language_definitions.json (schema version 2); auto: the template when present.")
@click.option("--system", is_flag=True, help="Print ALTER SYSTEM instead of ALTER SESSION.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with both statements and the source file.")
@project_options
def activation_cmd(flavor: str, bucketfs_name: str, bucket_name: str, container_name: str, path_in_bucket: str,
                   kind: str, system: bool, as_json: bool, **kwargs: Any) -> None:
    """Print the SQL that activates FLAVOR's languages once its archive is in BucketFS.

    The same statement exaslct's generate-language-activation prints for the same options.

    \b
      slcc activation python3 --bucketfs-name bfsdefault --bucket-name default \\
          --container-name python3_release --path-in-bucket slc
    """
    from slcc.loading import activation  # noqa: PLC0415 - only this command needs it

    project = load_project(kwargs, [flavor])
    loaded = project.flavors[0]
    step_files = [p for s in loaded.steps.values() for n, p in s.files.items() if n == activation.DEFINITIONS]
    source_kind, path = activation.find_source(loaded.directory, step_files, kind)
    location = activation.BucketLocation(bucketfs_name, bucket_name, container_name, path_in_bucket)
    result = (activation.from_template if source_kind == "template" else activation.from_definitions)(path, location)
    if as_json:
        click.echo(json.dumps({"flavor": loaded.name, "source": str(path), "kind": source_kind,
                               "alter_session": result.alter_session, "alter_system": result.alter_system,
                               "script_languages": result.definition}, indent=2))
        return
    click.echo(result.alter_system if system else result.alter_session)
