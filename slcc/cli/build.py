"""`slcc build`: build the stale steps, skip the fresh ones."""

from __future__ import annotations

from typing import Any

import click

from slcc.cli.options import build_io, builder_option, echo_err, load_project, progress_option, project_options
from slcc.cli.report import show_report
from slcc.commands.build import BuildFailed, BuildOptions, build
from slcc.vocabulary import Progress


@click.command("build")
@click.argument("flavors", nargs=-1)
@click.option("-g", "--goal", "goals", multiple=True, metavar="STEP",
              help="Step to build (repeatable); default: the flavor's goals.")
@click.option("--push", is_flag=True, help="Push built images (and fresh local-only ones) to the registry.")
@click.option("--load", is_flag=True, help="Make sure goal images are in the local image store (pull if needed).")
@click.option("--no-cache", is_flag=True, help="Build stale steps without BuildKit's cache.")
@click.option("--force-rebuild", is_flag=True, help="Rebuild the goals and everything they need.")
@click.option("--from", "force_from", multiple=True, metavar="STEP",
              help="Rebuild STEP and the steps that use it (repeatable).")
@builder_option
@progress_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@project_options
def build_cmd(flavors: tuple[str, ...], goals: tuple[str, ...], push: bool, load: bool, no_cache: bool,
              force_rebuild: bool, force_from: tuple[str, ...], builder: str | None, progress: Progress,
              as_json: bool, **kwargs: Any) -> None:
    """Build FLAVORS (default: all): only stale steps, skipping what is fresh.

    A step is fresh when an image tagged with its content hash exists in the local image
    store or the registry. When nothing is stale no bake is started. Each run keeps its
    bake file, log and JSON report under .slcc/runs/.
    """
    kwargs["builder"] = builder
    project = load_project(kwargs, flavors)
    options = BuildOptions(goals, push, load, no_cache, force_rebuild, force_from, progress)
    try:
        report = build(project, options, build_io())
    except BuildFailed as exc:
        show_report(exc.report, as_json)
        raise
    show_report(report, as_json)
    if project.settings.scope == "tag":  # the tag scope pins what it just built
        from slcc.commands.lock import write_resolved  # noqa: PLC0415 - only this scope writes slcc.lock

        result = write_resolved(project, project.hasher.images)
        echo_err(f"{result.path}: {'updated' if result.written else 'unchanged'} ({len(result.changes)} change(s))")
