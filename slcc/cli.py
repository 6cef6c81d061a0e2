"""The slcc command line. Thin: parse options, call the library, print results.

Results go to stdout, progress and warnings to stderr. Every SlccError becomes one
``slcc: error: ...`` line and its exit code (2 for bad input); no tracebacks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from slcc import __version__
from slcc.commands import lock as locking
from slcc.commands.build import BuildFailed, BuildIO, BuildOptions, BuildReport, build, plan_build
from slcc.engine import signals
from slcc.engine.docker import DockerEngine
from slcc.engine.protocol import Cancelled
from slcc.errors import InputError, SlccError
from slcc.loading.config import check_dir_path
from slcc.loading.project import Project, open_project
from slcc.output import render
from slcc.state.store import State
from slcc.vocabulary import CacheBackend, Progress, Scope, choices

if TYPE_CHECKING:
    from slcc.progress.records import StepFailure

F = TypeVar("F", bound=Callable[..., Any])


def warn(message: str) -> None:
    click.echo(f"slcc: warning: {message}", err=True)


class SlccGroup(click.Group):
    """Turns slcc's errors into one line and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]
        signals.install()  # SIGTERM and SIGHUP end slcc like Ctrl-C, with 143 and 129
        try:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            click.echo(f"slcc: error: {_usage_line(exc)}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"slcc: error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort as exc:  # click's wrapper around KeyboardInterrupt
            click.echo("slcc: interrupted", err=True)
            cause = exc.__cause__
            sys.exit(signals.exit_code(cause) if isinstance(cause, KeyboardInterrupt) else 130)
        except SlccError as exc:
            click.echo(f"slcc: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except Cancelled as exc:
            click.echo("slcc: interrupted", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            click.echo("slcc: interrupted", err=True)
            sys.exit(signals.exit_code(exc))


def _usage_line(exc: click.UsageError) -> str:
    """Click's usage error as one line: the command, the problem, where to get help."""
    names, ctx = [], exc.ctx
    while ctx is not None and ctx.parent is not None:  # the root's name depends on how slcc was started
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    command = " ".join(reversed(names))
    message = " ".join(exc.format_message().split())
    where = f"{command}: " if command else ""
    return f"{where}{message} (see slcc {command + ' ' if command else ''}--help)"


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


progress_option = click.option(
    "--progress", type=click.Choice(choices(Progress)), default="auto", show_default=True,
    help="auto: a live view, one row per step, on a terminal (plain lines when not a terminal or "
    "TERM=dumb); plain: a line per instruction a step starts, its output and how the step ended; json: one "
    "JSON object per event (step, status, instruction, timing) on stderr; quiet: none. See docs/build-view.md.")


def load_project(options: dict[str, Any], flavors: Sequence[str]) -> Project:
    """Open the project with the shared options (consumed from ``options``)."""
    keys = ("repository", "cache", "ca_bundle", "builder", "scope")
    overrides = {key: options.pop(key, None) for key in keys}
    repo = options.pop("repo", None)
    if repo is None:  # `slcc -C DIR build`, as with git and make
        context = click.get_current_context(silent=True)
        repo = context.find_root().params.get("repo") if context else None
    project = open_project(repo, flavors, overrides, warn)
    locking.attach(project, DockerEngine(), warn)
    return project


@click.group(cls=SlccGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="slcc")
@click.option("-C", "--repo", type=click.Path(file_okay=False, path_type=Path),
              help="Repository root for every command (as `git -C`); a command's own -C wins.")
def main(repo: Path | None) -> None:
    """slcc - the script language container compiler.

    A flavor (flavors/NAME/flavor.toml plus one directory per step) is a graph of
    Dockerfiles. slcc hashes every step (BLAKE3 over files, args and dependency hashes),
    compiles the graph into a docker buildx bake file with hash tags, and builds only
    what is stale.

    \b
    Typical use:
      slcc build python3            build what changed, skip what is fresh
      slcc hash python3             show each step's hash and tag
      slcc graph python3 -f mermaid the step graph
      slcc emit-bake python3        bake file for other CI systems (bake/python3.hcl)
    """


@main.command("emit-bake")
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


@main.command("hash")
@click.argument("flavors", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per step.")
@project_options
def hash_cmd(flavors: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Show each step's content hash and image tag."""
    project = load_project(kwargs, flavors)
    hashes = project.hash_all()
    rows = [
        {"flavor": f, "step": s, "hash": h.digest, "tag": h.tag(project.settings.repository)}
        for f, steps in hashes.items()
        for s, h in steps.items()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(f"{r['flavor']}/{r['step']}") for r in rows)
    for r in rows:
        click.echo(f"{r['flavor'] + '/' + r['step']:<{width}}  {r['tag']}")


@main.command("graph")
@click.argument("flavors", nargs=-1)
@click.option("-f", "--format", "fmt", type=click.Choice(render.GRAPH_FORMATS), default="text", show_default=True)
@click.option("--hashes", is_flag=True, help="Include step hashes (json format).")
@project_options
def graph_cmd(flavors: tuple[str, ...], fmt: str, hashes: bool, **kwargs: Any) -> None:
    """Show the step graph of FLAVORS: text, Graphviz dot, Mermaid or JSON."""
    project = load_project(kwargs, flavors)
    click.echo(render.graph(project.flavors, fmt, project.hash_all() if hashes else None), nl=False)



def _print_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _summary(report: BuildReport) -> str:
    counts: dict[str, int] = {}
    for step in report.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    bake = "" if report.baked else " (nothing to build, no bake started)"
    return f"{len(report.steps)} steps: {parts} in {report.seconds:.2f} s, scope {report.scope}{bake}"


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


def _build_io() -> BuildIO:
    """The real engine, constructed here at the edge and passed into the commands."""
    return BuildIO(warn, _echo_err, DockerEngine(), terminal=sys.stderr)


def _show_report(report: BuildReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    _print_table(
        [(f"{s.flavor}/{s.step}", s.status, f"{s.seconds:.1f}", s.tag) for s in report.steps],
        ("STEP", "STATUS", "SECONDS", "TAG"),
    )
    click.echo(_summary(report))
    for step in report.steps:
        if step.why and step.status in ("built", "failed"):
            click.echo(f"  {step.flavor}/{step.step}: {'; '.join(step.why)}", err=True)
    for step in report.steps:
        if step.failure is not None:
            _show_failure(step.failure)


def _show_failure(failure: StepFailure) -> None:
    """The failing step, its instruction, its last output lines; the error line then names the log."""
    click.echo(f"\nstep {failure.flavor}/{failure.step} failed at `{failure.instruction}`", err=True)
    for line in failure.output:
        click.echo(f"  | {line}", err=True)
    click.echo(f"  {failure.error}", err=True)


@main.command("build")
@click.argument("flavors", nargs=-1)
@click.option("-g", "--goal", "goals", multiple=True, metavar="STEP",
              help="Step to build (repeatable); default: the flavor's goals.")
@click.option("--push", is_flag=True, help="Push built images (and fresh local-only ones) to the registry.")
@click.option("--load", is_flag=True, help="Make sure goal images are in the local image store (pull if needed).")
@click.option("--no-cache", is_flag=True, help="Build stale steps without BuildKit's cache.")
@click.option("--force-rebuild", is_flag=True, help="Rebuild the goals and everything they need.")
@click.option("--from", "force_from", multiple=True, metavar="STEP",
              help="Rebuild STEP and the steps that use it (repeatable).")
@click.option("--builder", help="buildx builder (default: the local daemon's). Any other builder checks "
              "freshness in and pushes to the registry, which --repository must name [env SLCC_BUILDER].")
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
        report = build(project, options, _build_io())
    except BuildFailed as exc:
        _show_report(exc.report, as_json)
        raise
    _show_report(report, as_json)
    if project.settings.scope == "tag":  # the tag scope pins what it just built
        result = locking.write_resolved(project, project.hasher.images)
        _echo_err(f"{result.path}: {'updated' if result.written else 'unchanged'} ({len(result.changes)} change(s))")


@main.command("push")
@click.argument("flavors", nargs=-1)
@click.option("-g", "--goal", "goals", multiple=True, metavar="STEP",
              help="Goal step (repeatable); default: the flavor's goals.")
@click.option("--all", "all_steps", is_flag=True, help="Every step of the flavors, not only what the goals need.")
@click.option("--no-build", is_flag=True, help="Report images that exist nowhere instead of building them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per image on stdout.")
@project_options
def push_cmd(flavors: tuple[str, ...], goals: tuple[str, ...], all_steps: bool, no_build: bool, as_json: bool,
             **kwargs: Any) -> None:
    """Push the hash-tagged images of FLAVORS (default: all) that the registry lacks.

    Covers the goals and every step they need (with --all: every step), so other machines
    reuse them instead of rebuilding. Images only in the local store are pushed; images in
    neither place are built first (or, with --no-build, reported and exit 1). Credentials
    come from the docker client config: run `docker login HOST` first when the registry
    needs one.
    """
    from slcc.commands.push import PushOptions, push  # noqa: PLC0415 - keeps `slcc --help` fast

    project = load_project(kwargs, flavors)
    results = push(project, PushOptions(goals, all_steps, not no_build), _build_io())
    if as_json:
        click.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        _print_table([(f"{r.flavor}/{r.step}", r.status, r.tag) for r in results], ("STEP", "STATUS", "TAG"))
    missing = [f"{r.flavor}/{r.step}" for r in results if r.status == "missing"]
    if missing:
        raise SlccError(f"not pushed, in neither the local store nor the registry: {', '.join(missing)}")


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


@main.command("clean")
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
    """Remove old hash-tagged images, run folders, exports and local build cache.

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
    report = clean(project, options, CleanIO(_echo_err, DockerEngine()))
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    for line in clean_lines(report.decisions, report.results, dry_run):
        click.echo(line)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)


@main.command("du")
@click.argument("flavors", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@project_options
def du_cmd(flavors: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Disk use per flavor and step: local images, local build cache, exports; and run folders.

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


@main.command("explain")
@click.argument("flavor", required=False)
@click.argument("steps", nargs=-1)
@click.option("-g", "--goal", "goals", multiple=True, metavar="STEP", help="Goal step (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@project_options
def explain_cmd(flavor: str | None, steps: tuple[str, ...], goals: tuple[str, ...], as_json: bool,
                **kwargs: Any) -> None:
    """Show what a build would do and why: which files, args or dependencies changed.

    Compares each stale step with the manifest of the last image built for it here.
    Also available as `slcc plan`.
    """
    from slcc.planning import explain  # noqa: PLC0415

    project = load_project(kwargs, [flavor] if flavor else [])
    plan = plan_build(project, BuildOptions(goals=goals or steps), warn, DockerEngine()).plan
    state = State(project.settings.state_dir, warn)
    rows = []
    for s in plan.steps:
        if steps and s.step not in steps:
            continue
        why = explain.reasons(state.last_manifest(s.flavor, s.step), s.hash.manifest()) if s.status == "stale" else []
        rows.append({"flavor": s.flavor, "step": s.step, "status": s.status, "tag": s.tag, "why": why})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        action = "build" if row["status"] == "stale" else row["status"]
        click.echo(f"{row['flavor']}/{row['step']}: {action}  {row['tag']}")
        for reason in row["why"]:
            click.echo(f"    {reason}")


main.add_command(explain_cmd, "plan")


# --- export and test (slcc/export.py, slcc/flavortest.py) -------------------------------------


@main.command("export")
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
        results = export(project, options, _build_io())
    except BuildFailed as exc:
        _show_report(exc.report, as_json)
        raise
    if as_json:
        # One object per archive; a list only for flavors that declare platforms.
        data = [r.as_json() for r in results]
        click.echo(json.dumps(data if results[0].platform else data[0], indent=2))
        return
    for result in results:
        state = "fresh (cached, nothing built)" if result.cached else "exported"
        click.echo(f"{state}: {result.archive} ({result.size / 1e6:.1f} MB, {result.seconds:.2f} s)")


@main.command("test")
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
    result = run_tests(project, step, progress, _build_io())
    for line in result.output:
        click.echo(f"  | {line}", err=True)
    click.echo(result.summary())
    if not result.passed:
        sys.exit(1)  # not click.exceptions.Exit: with standalone_mode=False click returns its code


# --- watch (slcc/watch.py) ---------------------------------------------------------------------


@main.command("watch")
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
@click.option("--builder", help="buildx builder (default: the local daemon's). Any other builder checks "
              "freshness in and pushes to the registry, which --repository must name [env SLCC_BUILDER].")
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
        click.echo(cycle.line(), err=as_json)

    watch(project, options, WatchOutput(show, _echo_err, warn, sys.stderr), DockerEngine())


# --- serve (slcc/serve/) -----------------------------------------------------------------------


@main.command("serve")
@click.option("--repo", "source", required=True, metavar="SOURCE",
              help="The flavor repository to build: a git URL or a local path. Mirrored under the state directory.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path(".slcc-serve"), show_default=True,
              help="Mirror, work trees, logs, artifacts and the SQLite queue.")
@click.option("--database", metavar="URL", envvar="SLCC_SERVE_DATABASE",
              help="postgresql://... to share one queue between instances; default: SQLite in the state dir "
              "[env SLCC_SERVE_DATABASE; passwords: PGPASSWORD or ~/.pgpass].")
@click.option("--branch", "branches", multiple=True, metavar="GLOB",
              help="Build pushes to matching branches only (repeatable); default: every branch.")
@click.option("--push", is_flag=True, help="Push built images to the registry (like slcc build --push).")
@click.option("--export", "export_", is_flag=True,
              help="Export each goal as .tar.gz + .sha512sum into the build's artifacts.")
@click.option("--max-body", type=click.IntRange(1024, 100 * 1024 * 1024), default=5 * 1024 * 1024,
              show_default=True, metavar="BYTES", help="Larger request bodies are refused with 413.")
@click.option("--instance", metavar="NAME",
              help="Name of this instance in a shared queue; default: host name and state dir.")
@click.option("--keep", type=click.IntRange(1, 1_000_000), default=200, show_default=True, metavar="N",
              help="Keep logs and artifacts of the N newest builds (records and reports stay in the database).")
@click.option("--repository", metavar="REPO", help="Image repository for hash tags [env SLCC_REPOSITORY].")
@click.option("--cache", type=click.Choice(choices(CacheBackend)),
              help="Build cache backend [env SLCC_CACHE].")
@click.option("--builder", help="buildx builder (default: the local daemon's). Any other builder checks "
              "freshness in and pushes to the registry, which --repository must name [env SLCC_BUILDER].")
def serve_cmd(source: str, host: str, port: int, state_dir: Path, database: str | None, branches: tuple[str, ...],
              push: bool, export_: bool, max_body: int, instance: str | None, keep: int,
              repository: str | None, cache: str | None, builder: str | None) -> None:
    """Build flavors when a git host reports a push (webhooks), with a queue and a status page.

    Every push to SOURCE that changes a flavor's content queues one build of it: the pushed
    commit is checked out into its own work tree and built like `slcc build` (only stale
    steps). Endpoints: POST /hooks/github, POST /hooks/gitlab, /api/builds, /api/artifacts
    and the page at /. Secrets: SLCC_WEBHOOK_SECRET and SLCC_API_TOKEN (or webhook_secret and
    api_token in ~/.config/slcc/serve.toml). See docs/serve.md.

    \b
    Example:
      SLCC_WEBHOOK_SECRET=... slcc serve --repo https://git.example.com/team/flavors.git --push
    """
    from slcc.serve.service import ServeOptions, serve  # noqa: PLC0415 - Starlette/uvicorn only for serve

    overrides = {"repository": repository, "cache": cache, "builder": builder}
    serve(ServeOptions(source, host, port, state_dir, database, branches, push, export_, max_body, instance, keep,
                       overrides))


# --- exaslct import (slcc/importing/, slcc/commands/import_exaslct.py) --------------------------


@main.command("import-exaslct")
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


@main.command("activation")
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
# --- lock (slcc/commands/lock.py) ----------------------------------------------------------------


@main.command("lock")
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
