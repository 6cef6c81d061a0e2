"""`slcc test`: build a flavor's test step and report PASS or FAIL."""

from __future__ import annotations

import sys
from typing import Any

import click

from slcc.cli.options import build_io, echo_err, load_project, progress_option, project_options
from slcc.vocabulary import Progress


@click.command("test")
@click.argument("flavor", required=False)
@click.option("--step", metavar="STEP", help="The test step; default: the step named 'test'.")
@progress_option
@project_options
def test_cmd(flavor: str | None, step: str | None, progress: Progress, **kwargs: Any) -> None:
    """Build FLAVOR's test step (and what it needs) and print PASS or FAIL; exit 1 on FAIL.

    A fresh test step means its tests already passed for exactly these inputs: it is not
    run again.
    """
    from slcc.commands.flavor_test import run_tests  # noqa: PLC0415 - this block stays self-contained

    project = load_project(kwargs, [flavor] if flavor else [])
    result = run_tests(project, step, progress, build_io())
    for line in result.output:
        echo_err(f"  | {line}")
    click.echo(result.summary())
    if not result.passed:
        sys.exit(1)  # not click.exceptions.Exit: with standalone_mode=False click returns its code
