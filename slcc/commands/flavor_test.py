"""`slcc test`: build a flavor's test step and say PASS or FAIL.

A test step is an ordinary step (by default the one named ``test``) whose RUN instructions
exercise the release image. Building it is running the tests, so a test step that is fresh
(an image with its hash tag exists) has already passed for exactly these inputs, and is not
run again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from slcc.commands.build import BuildFailed, BuildIO, BuildOptions, BuildReport, StepResult, build
from slcc.commands.export import single_flavor
from slcc.errors import EngineError, InputError
from slcc.loading.project import Project
from slcc.progress.bake_log import instruction_output
from slcc.vocabulary import Progress

DEFAULT_TEST_STEP = "test"
OUTPUT_TAIL_LINES = 20


@dataclass(frozen=True)
class FlavorTestResult:
    flavor: str
    step: str
    passed: bool
    cached: bool  # the test step was fresh: its tests passed before for these inputs
    tag: str
    hash: str
    seconds: float
    error: str | None = None  # the failing instruction and error, or the build error
    log: Path | None = None
    output: tuple[str, ...] = field(default_factory=tuple)  # last lines the failing instruction printed
    platforms: tuple[str, ...] = ()  # the flavor's declared platforms the tests ran on
    skipped: tuple[str, ...] = ()  # declared platforms the builder cannot run

    def summary(self) -> str:
        """The one-line verdict."""
        name = f"{self.flavor}/{self.step}"
        if self.platforms:
            name += f" on {', '.join(self.platforms)}"
        if self.skipped:
            name += f" (not run on {', '.join(self.skipped)}: the builder cannot run it)"
        if self.passed and self.cached:
            return f"PASS {name} ({self.tag}) (cached: tests already passed for hash {self.hash[:32]})"
        if self.passed:
            return f"PASS {name} ({self.tag}) in {self.seconds:.1f} s"
        log = f"; log: {self.log}" if self.log else ""
        return f"FAIL {name} {self.error}{log}"


def run_tests(project: Project, step: str | None, progress: Progress, io: BuildIO) -> FlavorTestResult:
    """Build the flavor's test step (and what it needs). Raises InputError when there is none."""
    flavor = single_flavor(project)
    name = step or DEFAULT_TEST_STEP
    if name not in flavor.steps:
        raise InputError(f"flavor {flavor.name} has no test step {name!r} (steps: {', '.join(flavor.steps)})")
    runnable, skipped = _runnable_platforms(project, io)
    if skipped:
        # The platform set is part of every hash: the subset builds (and tags) images of its own.
        project = replace(project, flavors=[replace(flavor, platforms=runnable)])
    try:
        report = build(project, BuildOptions(goals=(name,), progress=progress), io)
    except BuildFailed as exc:
        return replace(_failed(exc.report, flavor.name, name), platforms=runnable, skipped=skipped)
    result = _step(report, flavor.name, name)
    cached = result.status in ("fresh-local", "fresh-registry")
    return FlavorTestResult(flavor.name, name, True, cached, result.tag, result.hash, report.seconds,
                            platforms=runnable, skipped=skipped)


def _runnable_platforms(project: Project, io: BuildIO) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The flavor's declared platforms the builder can run (the tests run there), and the others.

    A flavor without declared platforms builds for the builder's own: nothing to check.
    """
    flavor = project.flavors[0]
    if not flavor.platforms:
        return (), ()
    builder = io.engine.builder(project.settings.builder)
    runnable = tuple(p for p in flavor.platforms if builder.can_run(p))
    skipped = tuple(p for p in flavor.platforms if p not in runnable)
    if not runnable:
        raise EngineError(f"builder {builder.name!r} can run none of {', '.join(flavor.platforms)} "
                          f"(it runs {', '.join(builder.platforms) or 'nothing'}); for linux/arm64 on x86_64 "
                          "install QEMU emulation: bash slcc/resources/emulation.sh up")
    return runnable, skipped


def _step(report: BuildReport, flavor: str, step: str) -> StepResult:
    return next(s for s in report.steps if (s.flavor, s.step) == (flavor, step))


def _failed(report: BuildReport, flavor: str, step: str) -> FlavorTestResult:
    result = _step(report, flavor, step)
    failure = result.failure if result.status == "failed" else None
    if failure is not None:
        message = f"at `{failure.instruction}`: {failure.error}"
        output = failure_output(report.log, failure.instruction) if report.log else ()
    else:
        # The tests never ran: a step below them failed, and the build error names it.
        error = re.sub(r" \(full log: [^)]*\)$", "", report.error or "build failed")
        message = f"(not run): {error}"
        output = ()
    return FlavorTestResult(flavor, step, False, False, result.tag, result.hash, report.seconds,
                            message, report.log, output)


def failure_output(log: Path, instruction: str, lines: int = OUTPUT_TAIL_LINES) -> tuple[str, ...]:
    """The last ``lines`` lines the failing ``instruction`` printed, from a `--progress=plain` log."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return instruction_output(text.splitlines(), instruction, lines)
