"""`slcc build`: hash, plan against existing images, bake only what is stale, report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from slcc.emitting import emit
from slcc.engine import docker as engine
from slcc.engine import git
from slcc.errors import SlccError
from slcc.loading.project import Hashes, Project
from slcc.model import Flavor
from slcc.planning import explain
from slcc.planning.plan import Plan, PlannedStep, StepKey, forced_steps, make_plan
from slcc.state.atomic import write_text_atomic
from slcc.state.store import State

Progress = Literal["auto", "plain", "quiet"]
StepStatus = Literal["fresh-local", "fresh-registry", "built", "failed", "not-built"]


@dataclass(frozen=True)
class BuildOptions:
    goals: Sequence[str] = ()
    push: bool = False
    load: bool = False
    no_cache: bool = False
    force_rebuild: bool = False
    force_from: Sequence[str] = ()
    progress: Progress = "auto"


@dataclass
class StepResult:
    flavor: str
    step: str
    status: StepStatus
    tag: str
    hash: str
    seconds: float = 0.0
    why: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class BuildReport:
    ok: bool
    steps: list[StepResult]
    seconds: float
    baked: bool  # whether a bake ran at all
    run_dir: Path | None = None
    log: Path | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "seconds": self.seconds,
            "baked": self.baked,
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "log": str(self.log) if self.log else None,
            "warnings": self.warnings,
            "error": self.error,
            "steps": [s.as_json() for s in self.steps],
        }


class BuildFailed(SlccError):
    """A bake ran and failed; the report says which step and where the log is."""

    def __init__(self, report: BuildReport) -> None:
        self.report = report
        super().__init__(report.error or "build failed")


@dataclass(frozen=True)
class PlannedBuild:
    plan: Plan
    hashes: Hashes
    registry_ok: bool  # False when no registry is configured or it did not answer


def plan_build(project: Project, options: BuildOptions, warn: Callable[[str], None]) -> PlannedBuild:
    """Hash every step and decide what is stale, asking the local store and the registry."""
    hashes = project.hash_all()
    goals = project.goals(options.goals)
    settings = project.settings
    forced = {
        f.name: forced_steps(f, goals[f.name], options.force_rebuild, options.force_from)
        for f in project.flavors
        if f.name in goals
    }
    local = engine.local_tags(f"{settings.repository}/{f.name}" for f in project.flavors)
    registry: set[str] = set()
    registry_ok = settings.registry_host is not None
    if registry_ok:
        # Ask the registry only about what the local store lacks (or everything when pushing).
        local_plan = make_plan(project.flavors, hashes, goals, settings.repository, local, set(), forced)
        wanted = [s.tag for s in local_plan.steps if options.push or s.status == "stale"]
        try:
            registry = engine.registry_tags(wanted)
        except engine.RegistryUnavailable as exc:
            warn(f"{exc}; building without it (local cache, no push)")
            registry_ok = False
    plan = make_plan(project.flavors, hashes, goals, settings.repository, local, registry, forced)
    return PlannedBuild(plan, hashes, registry_ok)


def _why(state: State, planned: PlannedStep) -> list[str]:
    if planned.forced:
        return ["forced rebuild"]
    return explain.reasons(state.last_manifest(planned.flavor, planned.step), planned.hash.manifest())


def build(project: Project, options: BuildOptions, warn: Callable[[str], None],
          echo: Callable[[str], None], should_stop: Callable[[], bool] | None = None) -> BuildReport:
    """Build the stale steps the goals need; raises BuildFailed (with the report) on failure.

    ``should_stop`` (asked while bake runs) stops the bake cleanly; like Ctrl-C, that ends
    in KeyboardInterrupt after the report is written.
    """
    with State(project.settings.state_dir).build_lock(echo):
        return _build_locked(project, options, warn, echo, should_stop)


def _build_locked(project: Project, options: BuildOptions, warn: Callable[[str], None],
                  echo: Callable[[str], None], should_stop: Callable[[], bool] | None) -> BuildReport:
    start = time.monotonic()
    warnings: list[str] = []

    def warn_and_keep(message: str) -> None:
        warnings.append(message)
        warn(message)

    planned = plan_build(project, options, warn_and_keep)
    plan = planned.plan
    state = State(project.settings.state_dir)
    results = {
        s.key: StepResult(s.flavor, s.step, s.status if s.status != "stale" else "not-built", s.tag,
                          s.hash.digest, why=_why(state, s) if s.status == "stale" else [])
        for s in plan.steps
    }
    report = BuildReport(ok=True, steps=list(results.values()), seconds=0.0, baked=False, warnings=warnings)
    if options.push and planned.registry_ok:
        _push_fresh(plan, echo)
    if options.load:
        goals = project.goals(options.goals)
        for s in plan.steps:
            if s.status == "fresh-registry" and s.step in goals.get(s.flavor, ()):
                echo(f"pulling {s.tag}")
                engine.pull(s.tag)
    outcome = None
    if plan.stale:
        report.run_dir = state.new_run()
        report.log = report.run_dir / "build.log"
        report.baked = True
        outcome = _run_bake(project, planned, options, report.run_dir, echo, should_stop)
        failure = _failed_step(project, plan, outcome)
        _record(project, plan, outcome, failure, state, results)
        if outcome.returncode != 0:
            report.ok = False
            report.error = _failure_message(outcome, failure, report.log)
    report.seconds = round(time.monotonic() - start, 2)
    if report.run_dir:
        write_text_atomic(report.run_dir / "report.json", json.dumps(report.as_json(), indent=2) + "\n")
    if outcome is not None and outcome.interrupted:
        raise KeyboardInterrupt
    if not report.ok:
        raise BuildFailed(report)
    return report


def _push_fresh(plan: Plan, echo: Callable[[str], None]) -> None:
    """With --push, images that exist only locally are pushed so other machines reuse them."""
    missing = [s.tag for s in plan.steps if s.status == "fresh-local"]
    present = engine.registry_tags(missing) if missing else set()
    for tag in missing:
        if tag not in present:
            echo(f"pushing {tag}")
            engine.push(tag)


def _run_bake(project: Project, planned: PlannedBuild, options: BuildOptions, run_dir: Path,
              echo: Callable[[str], None], should_stop: Callable[[], bool] | None) -> engine.BakeOutcome:
    """Emit a bake file for exactly the stale steps and run it."""
    settings = project.settings
    if not planned.registry_ok and settings.cache_backend == "registry":
        settings = replace(settings, cache_backend="local")
    plan = planned.plan
    bake_file = run_dir / "bake.hcl"
    write_text_atomic(bake_file, emit.emit_bake(emit.EmitRequest(
        project.flavors, planned.hashes, settings, only=plan.stale, revision=git.revision(settings.repo_root))))
    names = emit.target_names(project.flavors)
    targets = [names[s.key] for s in plan.steps if s.key in plan.stale]
    command = engine.bake_command(bake_file, targets, builder=settings.builder,
                                  push=options.push and planned.registry_ok, no_cache=options.no_cache)
    echo(f"building {len(targets)} step(s): {', '.join(f'{f}/{s}' for f, s in sorted(plan.stale))}")
    printer = _progress_printer(options.progress, echo)
    return engine.run_bake(command, targets, settings.repo_root, run_dir / "build.log", on_line=printer,
                           should_stop=should_stop)


Failure = tuple[StepKey, str, str]  # (step, instruction, error)


def _failed_step(project: Project, plan: Plan, outcome: engine.BakeOutcome) -> Failure | None:
    """The step whose instruction failed the bake.

    buildx labels an instruction shared by several targets with any one of them (a
    dependency's RUN may appear as its dependent's), so the label is only a starting point:
    the owner is the labelled step or one of its stale dependencies whose Dockerfile holds
    the instruction.
    """
    fatal = engine.fatal_failure(outcome)
    names = emit.target_names(project.flavors)
    labelled = next((k for k in plan.stale if names[k] == fatal[0]), None) if fatal else None
    if fatal is None or labelled is None:
        return None
    flavor = project.flavor(labelled[0])
    wanted = " ".join(fatal[1].split())
    candidates = [labelled, *((labelled[0], d) for d in _stale_below(flavor, labelled[1], plan))]
    for key in candidates:
        try:
            text = flavor.steps[key[1]].dockerfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if wanted in " ".join(text.split()):
            return key, fatal[1], fatal[2]
    return labelled, fatal[1], fatal[2]


def _stale_below(flavor: Flavor, step: str, plan: Plan) -> list[str]:
    """Stale dependencies of ``step``, nearest first."""
    order, queue = [], list(flavor.steps[step].depends)
    while queue:
        dep = queue.pop(0)
        if dep not in order and (flavor.name, dep) in plan.stale:
            order.append(dep)
            queue.extend(flavor.steps[dep].depends)
    return order


def _record(project: Project, plan: Plan, outcome: engine.BakeOutcome, failure: Failure | None,
            state: State, results: dict[StepKey, StepResult]) -> None:
    """Set each stale step's result, and keep the manifest of every image that was built."""
    names = emit.target_names(project.flavors)
    built = set(plan.stale)
    if outcome.returncode != 0:
        # Only tags decide freshness: ask which images the failed run still produced.
        present = engine.local_tags(f"{project.settings.repository}/{f.name}" for f in project.flavors)
        built = {k for k in plan.stale if plan.get(k).tag in present}
    for key in plan.stale:
        result = results[key]
        result.seconds = outcome.durations.get(names[key], 0.0)
        if key in built:
            result.status = "built"
            state.save_manifest(plan.get(key).hash.manifest())
        elif failure and key == failure[0]:  # steps cancelled by that failure stay "not-built"
            result.status = "failed"
            result.error = f"{failure[1]}: {failure[2]}"


def _failure_message(outcome: engine.BakeOutcome, failure: Failure | None, log: Path) -> str:
    if failure:
        (flavor, step), instruction, error = failure
        return f"step {flavor}/{step} failed at `{instruction}`: {error} (full log: {log})"
    detail = outcome.error_lines[-1] if outcome.error_lines else f"docker buildx bake exited {outcome.returncode}"
    return f"{detail} (full log: {log})"


def _progress_printer(mode: Progress, echo: Callable[[str], None]) -> Callable[[str], None] | None:
    if mode == "quiet":
        return None
    if mode == "plain":
        return echo
    seen: set[str] = set()

    def condensed(line: str) -> None:
        # One line per build instruction as it starts, and every error.
        match = engine.VERTEX_LINE.match(line)
        if match and match.group(1) not in seen and "[internal]" not in line:
            seen.add(match.group(1))
            echo(f"  [{match.group(2)}] {match.group(3)}")
        elif line.startswith("ERROR:") or (engine.VERTEX_ERROR.match(line) and "cache import" not in line):
            echo("  " + line)

    return condensed

