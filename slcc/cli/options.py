"""What several commands share: options, warnings, loading the project, the engine at the edge.

Heavy imports stay inside the functions: a command's --help loads none of them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from slcc.vocabulary import CacheBackend, Progress, Scope, choices

if TYPE_CHECKING:
    from slcc.commands.build import BuildIO
    from slcc.loading.project import Project
    from slcc.output.diagnostics import Diagnostics

F = TypeVar("F", bound=Callable[..., Any])

# Text lines, or JSON events once a command's --progress is json (every stderr line but the error then parses);
# SlccGroup.main resets it per invocation (tests invoke many in one process).
STDERR: ContextVar[Diagnostics | None] = ContextVar("slcc_stderr", default=None)


def _write_err(line: str) -> None:
    click.echo(line, err=True)


def stderr() -> Diagnostics:
    """What the CLI writes on stderr besides bake's progress, as text or JSON events."""
    from slcc.output.diagnostics import TextDiagnostics  # noqa: PLC0415 - a command's --help loads none of this

    return STDERR.get() or TextDiagnostics(_write_err)


def warn(message: str) -> None:
    stderr().warning(message)


def echo_err(line: str) -> None:
    stderr().message(line)


def fail(message: str, exit_code: int) -> NoReturn:
    """The last line (``message``: "<file or option>: <problem>", or "interrupted"), then exit."""
    stderr().error(message, exit_code)
    sys.exit(exit_code)


def project_options(func: F) -> F:
    """Options shared by every command that loads flavors."""
    options = [
        click.option("-C", "--repo", type=click.Path(file_okay=False, path_type=Path),
                     help="Repository root (default: nearest directory with slcc.toml or flavors/)."),
        click.option("--repository", metavar="REPO",
                     help="Image repository for hash tags, e.g. 127.0.0.1:5000/slcc [env SLCC_REPOSITORY]."),
        click.option("--cache", "cache", type=click.Choice(choices(CacheBackend)),
                     help="Build cache backend [env SLCC_CACHE]; default: registry when the repository "
                     "names one, else BuildKit's own cache only (a build exports none; emit-bake: local)."),
        click.option("--ca-bundle", metavar="FILE",
                     help="CA bundle passed to builds as BuildKit secret 'ca' ('none' to disable; "
                     "default: the host's bundle) [env SLCC_CA_BUNDLE]."),
        click.option("--scope", type=click.Choice(choices(Scope)),
                     help="Where images and git mappings come from [env SLCC_SCOPE]: local (as they are "
                     "now), main (git branch heads), tag (git tags, then written to slcc.lock), rel "
                     "(exactly slcc.lock). Default: rel when slcc.lock exists, else local."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _progress_stderr(ctx: click.Context, param: click.Parameter, value: Progress) -> Progress:
    """--progress json: from here on every stderr line is a JSON event (warnings too), except
    slcc's own final error line, which is text in every mode."""
    if value == "json":
        from slcc.output.diagnostics import JsonDiagnostics  # noqa: PLC0415

        STDERR.set(JsonDiagnostics(_write_err))
    return value


progress_option = click.option(
    "--progress", type=click.Choice(choices(Progress)), default="auto", show_default=True,
    callback=_progress_stderr,
    help="auto: a live view, one row per step, on a terminal (plain lines when not a terminal or "
    "TERM=dumb); plain: a line per instruction a step starts, its output and how the step ended; json: one "
    "JSON object per line on stderr (steps, warnings, messages, the summary; an error stays a "
    "`slcc: error:` line); quiet: none. "
    "See docs/build-view.md.")

builder_option = click.option(
    "--builder", help="buildx builder (default: the local daemon's). Any other builder checks "
    "freshness in and pushes to the registry, which --repository must name [env SLCC_BUILDER].")


def load_project(options: dict[str, Any], flavors: Sequence[str]) -> Project:
    """Open the project with the shared options (consumed from ``options``)."""
    from slcc.commands.pins import attach  # noqa: PLC0415 - a command's --help loads none of this
    from slcc.engine.docker import DockerEngine  # noqa: PLC0415
    from slcc.loading.project import open_project  # noqa: PLC0415

    keys = ("repository", "cache", "ca_bundle", "builder", "scope")
    overrides = {key: options.pop(key, None) for key in keys}
    repo = options.pop("repo", None)
    if repo is None:  # `slcc -C DIR build`, as with git and make
        context = click.get_current_context(silent=True)
        repo = context.find_root().params.get("repo") if context else None
    project = open_project(repo, flavors, overrides, warn)
    attach(project, DockerEngine(), warn)
    return project


def build_io() -> BuildIO:
    """The real engine, constructed here at the edge and passed into the commands."""
    from slcc.commands.build import BuildIO  # noqa: PLC0415
    from slcc.engine.docker import DockerEngine  # noqa: PLC0415

    return BuildIO(warn, echo_err, DockerEngine(), terminal=sys.stderr)
