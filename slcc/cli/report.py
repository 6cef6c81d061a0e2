"""A build's report on the terminal: the step table, the summary line, why steps were built, failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from slcc.cli.options import stderr

if TYPE_CHECKING:
    from slcc.commands.build import BuildReport


def print_table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def summary(report: BuildReport) -> str:
    counts: dict[str, int] = {}
    for step in report.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    bake = "" if report.baked else " (nothing to build, no bake started)"
    return f"{len(report.steps)} steps: {parts} in {report.seconds:.2f} s, scope {report.scope}{bake}"


def show_report(report: BuildReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
        return
    print_table(
        [(f"{s.flavor}/{s.step}", s.status, f"{s.seconds:.1f}", s.tag) for s in report.steps],
        ("STEP", "STATUS", "SECONDS", "TAG"),
    )
    click.echo(summary(report))
    show_stderr(report)


def show_stderr(report: BuildReport) -> None:
    """Why steps were rebuilt, the failure, and (JSON events only) the summary, on stderr."""
    from slcc.output.diagnostics import Summary  # noqa: PLC0415

    out = stderr()
    for step in report.steps:
        if step.why and step.status in ("built", "failed"):
            out.reasons(f"{step.flavor}/{step.step}", step.why)
    for step in report.steps:
        if step.failure is not None:
            out.failure(step.failure)
    statuses: dict[str, int] = {}
    for step in report.steps:
        statuses[step.status] = statuses.get(step.status, 0) + 1
    out.summary(Summary(report.ok, statuses, report.seconds, report.scope, report.baked,
                        str(report.log) if report.log else None, report.error))
