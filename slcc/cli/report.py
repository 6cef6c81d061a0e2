"""A build's report on the terminal: the step table, the summary line, why steps were built, failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from slcc.commands.build import BuildReport
    from slcc.progress.records import StepFailure


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
    for step in report.steps:
        if step.why and step.status in ("built", "failed"):
            click.echo(f"  {step.flavor}/{step.step}: {'; '.join(step.why)}", err=True)
    for step in report.steps:
        if step.failure is not None:
            show_failure(step.failure)


def show_failure(failure: StepFailure) -> None:
    """The failing step, its instruction, its last output lines; the error line then names the log."""
    click.echo(f"\nstep {failure.flavor}/{failure.step} failed at `{failure.instruction}`", err=True)
    for line in failure.output:
        click.echo(f"  | {line}", err=True)
    click.echo(f"  {failure.error}", err=True)
