"""`slcc watch`: rebuild what a source change affects, until Ctrl-C."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from slcc.cli.options import builder_option, echo_err, load_project, progress_option, project_options, warn
from slcc.engine.docker import DockerEngine
from slcc.vocabulary import Progress


@click.command("watch")
@click.argument("flavor", required=False)
@click.option("-g", "--goal", "goals", multiple=True, metavar="STEP",
              help="Step to keep built (repeatable); default: the flavor's goals.")
@click.option("--debounce", type=click.IntRange(0, 60_000), default=150, show_default=True, metavar="MS",
              help="Quiet period after the last change of a burst before a build starts (see --settle).")
@click.option("--settle", type=click.IntRange(0, 60_000), default=30, show_default=True, metavar="MS",
              help="A lone change after a quiet spell (one save) builds once files were still this long; "
              "changes that keep coming (a checkout, several saves) wait for --debounce.")
@click.option("--max-wait", type=click.IntRange(0, 600_000), default=2000, show_default=True, metavar="MS",
              help="Build at the latest this long after the first change, even if changes keep coming.")
@click.option("--restart", is_flag=True,
              help="Stop a running bake when a relevant change arrives and start over (default: queue "
              "the changes into one follow-up build).")
@click.option("--exec", "exec_cmd", metavar="CMD",
              help="Shell command to run after each successful build; env SLCC_TAG (first goal's tag), "
              "SLCC_TAGS (all goal tags).")
@builder_option
@progress_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per cycle on stdout.")
@project_options
def watch_cmd(flavor: str | None, goals: tuple[str, ...], debounce: int, settle: int, max_wait: int, restart: bool,
              exec_cmd: str | None, builder: str | None, progress: Progress, as_json: bool, **kwargs: Any) -> None:
    """Build FLAVOR, then rebuild the steps a source change affects, until Ctrl-C (exit 130).

    One status line per cycle: what changed, which steps were rebuilt, ok/failed, seconds
    and the goal tags. A failing build or a broken flavor.toml keeps watching. See docs/watch.md.
    """
    from slcc.commands.watch import Cycle, WatchOptions, WatchOutput, watch  # noqa: PLC0415 - keeps `slcc --help` fast

    kwargs["builder"] = builder
    project = load_project(kwargs, [flavor] if flavor else [])
    options = WatchOptions(goals, debounce / 1000, max_wait / 1000, restart, exec_cmd, progress, settle / 1000)

    def show(cycle: Cycle) -> None:
        if as_json:
            click.echo(json.dumps(cycle.as_json()))
            echo_err(cycle.line())
        else:
            click.echo(cycle.line())

    watch(project, options, WatchOutput(show, echo_err, warn, sys.stderr), DockerEngine())
