"""`slcc clean` and `slcc du`: what slcc keeps on disk, and removing what is old."""

from __future__ import annotations

import json
from typing import Any

import click

from slcc.cli.options import echo_err, load_project, project_options
from slcc.engine.docker import DockerEngine
from slcc.errors import InputError


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from slcc.loading.units import parse_duration  # noqa: PLC0415

    try:
        return None if value is None else parse_duration(value)
    except ValueError as exc:
        raise InputError(str(exc), "--keep-since") from None


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from slcc.loading.units import parse_size  # noqa: PLC0415

    try:
        return None if value is None else parse_size(value)
    except ValueError as exc:
        raise InputError(str(exc), "--cache-budget") from None


@click.command("clean")
@click.argument("flavors", nargs=-1)
@click.option("--keep", type=click.IntRange(0), metavar="N",
              help="Keep the last N images (and exports, runs) of each step, the current one first "
              "[slcc.toml: [clean] keep; default 3].")
@click.option("--keep-since", callback=_duration, metavar="DURATION",
              help="Keep what is younger than DURATION (30m, 12h, 7d, 2w); alone, it replaces --keep.")
@click.option("--all", "remove_all", is_flag=True, help="Remove everything, including what the current tree needs.")
@click.option("--registry", is_flag=True, help="Also delete old hash tags in the registry (by manifest digest).")
@click.option("--cache-budget", callback=_size, metavar="SIZE",
              help="Keep at most SIZE of local build cache (10GB, 500MiB) [slcc.toml: [clean] cache_budget].")
@click.option("-n", "--dry-run", is_flag=True, help="Only list what would go and the bytes it would free.")
@click.option("--json", "as_json", is_flag=True, help="Print every decision as JSON on stdout.")
@project_options
def clean_cmd(flavors: tuple[str, ...], keep: int | None, keep_since: float | None, remove_all: bool, registry: bool,
              cache_budget: int | None, dry_run: bool, as_json: bool, **kwargs: Any) -> None:
    """Remove old hash-tagged images, run folders, exports, contexts, git checkouts, build cache.

    Always kept (unless --all): what the current tree's hashes need. Besides, the last N of
    each step (--keep) and what is younger than --keep-since. Images are found by slcc's
    labels and removed by tag: images slcc did not build are never touched, nor images a
    container uses. Waits for a running build or watch cycle. See docs/lifecycle.md.

    \b
    Examples:
      slcc clean --dry-run          what would go, and the bytes it frees
      slcc clean --keep 1           only the current image of each step
      slcc clean --keep-since 7d --registry
    """
    from slcc.commands.clean import CleanIO, CleanOptions, clean  # noqa: PLC0415 - keeps `slcc --help` fast
    from slcc.output.lifecycle import clean_lines  # noqa: PLC0415

    project = load_project(kwargs, flavors)
    options = CleanOptions(list(flavors) or None, keep, keep_since, remove_all, registry, dry_run, cache_budget)
    report = clean(project, options, CleanIO(echo_err, DockerEngine()))
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    for line in clean_lines(report.decisions, report.results, dry_run):
        click.echo(line)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)


@click.command("du")
@click.argument("flavors", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@project_options
def du_cmd(flavors: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Disk use per flavor and step: images, build cache, exports; run folders, git checkouts.

    Image sizes are what `docker image ls` shows: layers shared between images count once
    per image, so the sum can exceed the disk space they really take.
    """
    from slcc.commands.du import disk_usage  # noqa: PLC0415 - keeps `slcc --help` fast
    from slcc.output.lifecycle import du_lines  # noqa: PLC0415

    project = load_project(kwargs, flavors)
    usage = disk_usage(project, DockerEngine(), list(flavors) or None)
    if as_json:
        click.echo(json.dumps(usage.as_json(), indent=2))
        return
    for line in du_lines(usage):
        click.echo(line)
