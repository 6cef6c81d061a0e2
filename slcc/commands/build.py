"""`slcc build`: hash, plan against existing images, bake only what is stale, report."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from slcc.commands.builders import bake_target, remote_builder
from slcc.engine import signals
from slcc.engine.protocol import (
    BakeOutcome,
    BakeRequest,
    BuilderInfo,
    Cancelled,
    CancelToken,
    Engine,
    RegistryUnauthorized,
    RegistryUnavailable,
)
from slcc.errors import EngineError, InputError, SlccError
from slcc.loading.config import Settings
from slcc.loading.project import Hashes, Project
from slcc.model import Flavor
from slcc.planning.plan import Plan, PlannedStep, forced_steps, make_plan
from slcc.state.atomic import write_text_atomic
from slcc.state.store import State
from slcc.vocabulary import Progress, StepKey, StepStatus

if TYPE_CHECKING:  # bake-time modules, imported where used: a no-op never loads them
    from slcc.progress import attribution
    from slcc.progress.records import StepEvent, StepFailure, StepRow
    from slcc.progress.tracker import BuildTracker, ProgressView

FAILURE_TAIL = 10  # output lines of the failing instruction shown with the failure
RACE_ATTEMPTS = 3  # plans per build when concurrent builds store the same tags


@dataclass(frozen=True)
class BuildOptions:
    goals: Sequence[str] = ()
    push: bool = False
    load: bool = False
    no_cache: bool = False
    force_rebuild: bool = False
    force_from: Sequence[str] = ()
    progress: Progress = "auto"


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step's line in a build report, made once its outcome is known."""

    flavor: str
    step: str
    status: StepStatus
    tag: str
    hash: str
    seconds: float = 0.0
    why: tuple[str, ...] = ()
    failure: StepFailure | None = None  # set when this step's instruction failed the bake
    buildkit_seconds: float | None = None  # sum of BuildKit's durations of this step's vertices

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"flavor": self.flavor, "step": self.step, "status": self.status, "tag": self.tag,
                                "hash": self.hash, "seconds": self.seconds, "why": list(self.why)}
        if self.buildkit_seconds is not None:
            data["buildkit_seconds"] = self.buildkit_seconds
        if self.failure is not None:
            data["error"] = self.failure.summary()
            data["failure"] = self.failure.as_json()
        return data


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did, made once at its end: written as report.json and shown by the CLI."""

    ok: bool
    steps: tuple[StepResult, ...]
    seconds: float
    baked: bool  # whether a bake ran at all
    run_dir: Path | None = None
    log: Path | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    pushed: tuple[str, ...] = ()  # tags pushed besides bake's own pushes
    scope: str = "local"
    bake_seconds: float | None = None  # the bake process, start to exit
    buildkit_seconds: float | None = None  # BuildKit's own span: first vertex start to last vertex end

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "pushed": list(self.pushed),
            "scope": self.scope,
            "seconds": self.seconds,
            "baked": self.baked,
            "bake_seconds": self.bake_seconds,
            "buildkit_seconds": self.buildkit_seconds,
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "log": str(self.log) if self.log else None,
            "warnings": list(self.warnings),
            "error": self.error,
            "steps": [s.as_json() for s in self.steps],
        }


class BuildFailed(SlccError):
    """A bake ran and failed; the report says which step and where the log is."""

    def __init__(self, report: BuildReport, raced: bool = False) -> None:
        self.report = report
        self.raced = raced  # lost a race with a concurrent build storing the same tag: worth planning again
        super().__init__(report.error or "build failed")


@dataclass(frozen=True)
class PlannedBuild:
    plan: Plan
    hashes: Hashes
    registry_ok: bool  # False when no registry is configured or it did not answer
    registry_error: str | None = None  # why the configured registry is not used
    remote: BuilderInfo | None = None  # the builder, when its images do not land in the local store


def check_options(project: Project, options: BuildOptions) -> dict[str, tuple[str, ...]]:
    """Validate goals and --from before anything is hashed, locked or written; the goals per flavor."""
    goals = project.goals(options.goals)
    steps = {s for f in project.flavors for s in f.steps}
    for name in options.force_from:
        if name not in steps:
            raise InputError(f"unknown step {name!r} (steps: {', '.join(sorted(steps))})", "--from")
    return goals


def _trusted_local(hashes: Hashes, repository: str, engine: Engine, warn: Callable[[str], None]) -> set[str]:
    """Local tags of these steps whose image carries the hash its tag names.

    An image retagged by hand under a hash tag would otherwise count as fresh and poison
    its dependents: it is rebuilt instead. Unlabelled images (no socket to ask) are trusted.
    """
    digests = {h.tag(repository): h.digest for steps in hashes.values() for h in steps.values()}
    trusted = set()
    for tag, label in engine.local_images(sorted(digests)).items():
        if label is None or label == digests[tag]:
            trusted.add(tag)
        else:
            warn(f"{tag} holds an image labelled org.slcc.hash={label[:12]}..., not its tag's hash; rebuilding it")
    return trusted


def plan_build(project: Project, options: BuildOptions, warn: Callable[[str], None], engine: Engine,
               remote: BuilderInfo | Literal["ask"] | None = "ask") -> PlannedBuild:
    """Hash every step and decide what is stale, asking the local store and the registry.

    With push, a registry that refuses our credentials is an error at once (nothing would
    be pushed); one that does not answer is a warning here and a failure after the build.
    On a remote builder (``remote``; "ask": find out) only the registry counts, and it must answer.
    """
    goals = check_options(project, options)
    if remote == "ask":
        remote = remote_builder(project.settings, engine)
    hashes = project.hash_all()
    settings = project.settings
    forced = {
        f.name: forced_steps(f, goals[f.name], options.force_rebuild, options.force_from)
        for f in project.flavors
        if f.name in goals
    }
    # A remote builder cannot use images of this machine's store: they do not make a step fresh.
    local = set() if remote else _trusted_local(hashes, settings.repository, engine, warn)
    registry: set[str] = set()
    registry_ok, error = settings.registry_host is not None, None
    if registry_ok:
        # Ask the registry only about what the local store lacks (or everything when pushing).
        local_plan = make_plan(project.flavors, hashes, goals, settings.repository, local, set(), forced)
        wanted = [s.tag for s in local_plan.steps if options.push or s.status == "stale"]
        try:
            registry = engine.registry_tags(wanted)
        except (RegistryUnauthorized, RegistryUnavailable) as exc:
            registry_ok, error = False, str(exc)
            _registry_fault(exc, options, remote, warn)
    plan = make_plan(project.flavors, hashes, goals, settings.repository, local, registry, forced)
    return PlannedBuild(plan, hashes, registry_ok, error, remote)


def _registry_fault(exc: EngineError, options: BuildOptions, remote: BuilderInfo | None,
                    warn: Callable[[str], None]) -> None:
    """A registry that refused or did not answer: raise when the build needs it, else warn."""
    if remote:
        raise EngineError(f"{exc}; builder {remote.name!r} ({remote.driver} driver) needs the registry: "
                          "its images go nowhere else") from None
    if isinstance(exc, RegistryUnauthorized):
        if options.push:
            raise exc
        warn(f"{exc}; building without the registry (local cache)")
    else:
        warn(f"{exc}; building without it (local cache{', nothing pushed' if options.push else ''})")


def _why(state: State, planned: PlannedStep) -> list[str]:
    from slcc.planning import explain  # noqa: PLC0415 - a no-op has no stale step to explain

    if planned.forced:
        return ["forced rebuild"]
    return explain.reasons(state.last_manifest(planned.flavor, planned.step), planned.hash.manifest())


@dataclass(frozen=True)
class BuildIO:
    """Where a build reports and what it runs on: warnings, progress lines, the engine, a cancel token.

    ``terminal`` is the stream a live view may draw on (the CLI's stderr); without one,
    ``--progress auto`` prints plain lines through ``echo``.
    """

    warn: Callable[[str], None]
    echo: Callable[[str], None]
    engine: Engine
    cancel: CancelToken | None = None
    terminal: TextIO | None = None


def build(project: Project, options: BuildOptions, io: BuildIO) -> BuildReport:
    """Build the stale steps the goals need; raises BuildFailed (with the report) on failure.

    When ``io.cancel`` is set while bake runs (or on Ctrl-C), bake is stopped cleanly, the
    report is written, and Cancelled says who cancelled.
    """
    check_options(project, options)
    if options.push and project.settings.registry_host is None:
        raise InputError(f"the image repository {project.settings.repository!r} names no registry to push to "
                         "(e.g. --repository 127.0.0.1:5000/slcc)", "--push")
    remote = remote_builder(project.settings, io.engine)  # bad input before anything is written
    with State(project.settings.state_dir).build_lock(io.echo) as lock_fd:
        _restore_checkouts(project, io)
        for attempt in range(1, RACE_ATTEMPTS + 1):
            try:
                return _build_locked(project, options, io, lock_fd, remote)
            except BuildFailed as exc:
                if not exc.raced or attempt == RACE_ATTEMPTS:
                    raise
                io.warn("another build on this daemon stored the same image at the same moment; planning again")
        raise AssertionError("unreachable")


def _restore_checkouts(project: Project, io: BuildIO) -> None:
    """Check out again what a `slcc clean` removed while this build waited for the lock: the
    git mappings were resolved to directories before the lock was taken."""
    if any(not f.mappings[name].exists() for f in project.flavors for name in f.sources):
        from slcc.commands.pins import attach  # noqa: PLC0415 - only git-sourced flavors get here

        attach(project, io.engine, io.warn)


def _build_locked(project: Project, options: BuildOptions, io: BuildIO, lock_fd: int,
                  remote: BuilderInfo | None) -> BuildReport:
    start = time.monotonic()
    warnings: list[str] = []  # every warning of this build, for its report
    io = replace(io, warn=_keeping(io.warn, warnings))
    planned = plan_build(project, options, io.warn, io.engine, remote)
    state = State(project.settings.state_dir, io.warn)
    results = {s.key: _planned_result(state, s) for s in planned.plan.steps}
    mark = io.engine.journal.mark()
    _prepare(project, planned, options, io)
    run = _Run(project, planned, options, io, state, state.new_run() if planned.plan.stale else None)
    outcome = _run_bake(project, planned, options, run.run_dir, io, lock_fd) if run.run_dir else None
    with signals.deferred():  # a second Ctrl-C must not lose the results or report.json
        settled = _settle(run, outcome, results) if outcome is not None else None
        outcome = settled.outcome if settled else None
        report = _conclude(run, settled, results, mark)
        report = replace(report, seconds=round(time.monotonic() - start, 2), warnings=tuple(warnings))
        if run.run_dir:
            write_text_atomic(run.run_dir / "report.json", json.dumps(report.as_json(), indent=2) + "\n",
                              durable=False)  # the run's own record: no fsync on the edit loop's path
    if outcome is not None and outcome.cancelled_by:
        raise Cancelled(outcome.cancelled_by, outcome.signum)
    if not report.ok:
        raise BuildFailed(report, raced=outcome is not None and _raced(outcome))
    return report


def _keeping(warn: Callable[[str], None], kept: list[str]) -> Callable[[str], None]:
    """``warn`` that also keeps each message in ``kept``."""
    def warn_and_keep(message: str) -> None:
        kept.append(message)
        warn(message)
    return warn_and_keep


def _planned_result(state: State, planned: PlannedStep) -> StepResult:
    """A step's result before any bake: fresh as planned, or stale and not built yet."""
    if planned.status != "stale":
        return StepResult(planned.flavor, planned.step, planned.status, planned.tag, planned.hash.digest)
    return StepResult(planned.flavor, planned.step, "not-built", planned.tag, planned.hash.digest,
                      why=tuple(_why(state, planned)))


@dataclass(frozen=True, slots=True)
class _Run:
    """One locked build attempt: what it builds, with what, and its run folder when it bakes."""

    project: Project
    planned: PlannedBuild
    options: BuildOptions
    io: BuildIO
    state: State
    run_dir: Path | None  # None when nothing is stale: no bake, no run folder

    @property
    def log(self) -> Path | None:
        return self.run_dir / "build.log" if self.run_dir else None


def _conclude(run: _Run, settled: _Settled | None, planned: Mapping[StepKey, StepResult],
              mark: int) -> BuildReport:
    """After the bake (``settled``, if one ran): push, load; the report (seconds and warnings
    still to be filled in)."""
    results = {**planned, **(settled.results if settled else {})}
    error = settled.error if settled else None
    pushed: tuple[str, ...] = ()
    if error is None and run.options.push:
        if run.planned.registry_ok:
            pushed = _push_after_build(run.project, run.planned, run.options.goals, run.io)
        else:
            error = (f"nothing pushed: {run.planned.registry_error or 'no registry'}; the images are kept "
                     "locally, run `slcc push` when the registry is back")
    if error is None and run.options.load and run.planned.remote:
        _load_built(run.project, run.planned, run.options, run.io)
    if run.log:
        _journal_to_log(run.io.engine, mark, run.log)
    report = BuildReport(ok=error is None, steps=tuple(results.values()), seconds=0.0,
                         baked=run.run_dir is not None, run_dir=run.run_dir, log=run.log, error=error,
                         pushed=pushed, scope=run.project.settings.scope)
    if settled is not None:  # the bake's wall time and BuildKit's own span in it (slcc.progress.timings)
        buildkit = settled.outcome.progress.buildkit
        report = replace(report, bake_seconds=settled.outcome.seconds,
                         buildkit_seconds=buildkit.span if buildkit else None)
    return report


@dataclass(frozen=True, slots=True)
class _Settled:
    """A finished bake as counted: its outcome, the stale steps' results, the build's error if it failed."""

    outcome: BakeOutcome
    results: Mapping[StepKey, StepResult]
    error: str | None


def _settle(run: _Run, outcome: BakeOutcome, results: Mapping[StepKey, StepResult]) -> _Settled:
    """Record what the bake produced; a failed bake whose images all exist anyway succeeded."""
    project, plan, io, log = run.project, run.planned.plan, run.io, run.log or Path("build.log")
    built = _built(project, plan, outcome, io, run.planned.remote is not None)
    if outcome.returncode != 0 and not outcome.cancelled_by and built == plan.stale:
        # Tags are content hashes: whoever stored the image, it is the image this build wanted.
        errors = outcome.progress.error_lines
        io.warn(f"bake exited {outcome.returncode} ({errors[-1] if errors else 'no error line'}), "
                "but every image it was to build exists: counted as built")
        outcome = replace(outcome, returncode=0)
    failure = _failed_step(project, plan, outcome, built, log)
    recorded = _record(project, plan, outcome, built, failure, run.state, results)
    failed = outcome.returncode != 0 or outcome.cancelled_by
    return _Settled(outcome, recorded, _failure_message(outcome, failure, log) if failed else None)


def _raced(outcome: BakeOutcome) -> bool:
    """The bake failed only because a concurrent build stored one of its tags first."""
    return any("already exists" in line for line in outcome.progress.error_lines)


def _prepare(project: Project, planned: PlannedBuild, options: BuildOptions, io: BuildIO) -> None:
    """--load: fresh registry-only goals to the store."""
    plan = planned.plan
    if options.load:
        goals = project.goals(options.goals)
        for s in plan.steps:
            if s.status == "fresh-registry" and s.step in goals.get(s.flavor, ()):
                io.echo(f"pulling {s.tag}")
                io.engine.pull(s.tag)


def _load_built(project: Project, planned: PlannedBuild, options: BuildOptions, io: BuildIO) -> None:
    """--load on a remote builder: the goals it built are in the registry only."""
    goals = project.goals(options.goals)
    for s in planned.plan.steps:
        if s.key in planned.plan.stale and s.step in goals.get(s.flavor, ()):
            io.echo(f"pulling {s.tag}")
            io.engine.pull(s.tag)


def _journal_to_log(engine: Engine, mark: int, log: Path) -> None:
    """Every command this build ran, after bake's own output in build.log."""
    try:
        with log.open("a", encoding="utf-8") as out:
            out.writelines(record.line() + "\n" for record in engine.journal.since(mark))
    except OSError:
        pass  # the log is for people; a full disk must not hide the build's result


def _push_after_build(project: Project, planned: PlannedBuild, goals: Sequence[str],
                      io: BuildIO) -> tuple[str, ...]:
    """With --push (and a registry that answered), every step the goals need that the registry
    lacks is pushed (bake pushed what it built); the tags pushed."""
    from slcc.commands import push  # noqa: PLC0415 - only with --push

    items = push.candidates(project, planned.hashes, goals, all_steps=False)
    results = push.push_lacking(items, push.local_tags(project, io.engine), io.engine, io.echo)
    if missing := [f"{r.flavor}/{r.step}" for r in results if r.status == "missing"]:
        io.warn(f"not pushed, found nowhere (`slcc push` builds them): {', '.join(missing)}")
    return tuple(r.tag for r in results if r.status == "pushed")


def build_settings(settings: Settings, registry_ok: bool, remote: BuilderInfo | None) -> Settings:
    """The cache backend this bake uses.

    A registry that does not answer: the local cache instead. No backend chosen and no registry,
    on this machine's daemon: none. BuildKit's own cache on the same daemon already holds every
    layer, and exporting a copy to .slcc/cache cost a cold python3 build ~1.2 GB and seconds
    (docs/benchmarks.md); it only helps after that cache is pruned (`--cache local` then).
    """
    if not registry_ok and settings.cache_backend == "registry":
        return replace(settings, cache_backend="local")
    if not settings.cache_chosen and settings.cache_backend == "local" and remote is None:
        return replace(settings, cache_backend="none")
    return settings


def _run_bake(project: Project, planned: PlannedBuild, options: BuildOptions, run_dir: Path,
              io: BuildIO, lock_fd: int) -> BakeOutcome:
    """Emit a bake file for exactly the stale steps and run it."""
    from slcc.emitting import emit  # noqa: PLC0415 - the no-op path never emits
    from slcc.output.build_view import make_view  # noqa: PLC0415
    from slcc.progress.tracker import BuildTracker  # noqa: PLC0415
    from slcc.state import contexts, localcache  # noqa: PLC0415

    settings = build_settings(project.settings, planned.registry_ok, planned.remote)
    plan = planned.plan
    bake_file = run_dir / "bake.hcl"
    revision = io.engine.revision(settings.repo_root)
    contexts.materialize(settings, project.flavors, planned.hashes, plan.stale)
    if settings.cache_backend == "local":
        for flavor, step in sorted(plan.stale):
            localcache.discard_if_corrupt(emit.local_cache_dir(settings, flavor, step), io.warn)
    # Read by the bake started next; a crash loses the run anyway: no fsync before bake starts.
    write_text_atomic(bake_file, emit.emit_bake(emit.EmitRequest(
        project.flavors, planned.hashes, settings, only=plan.stale, revision=revision)), durable=False)
    names = emit.target_names(project.flavors)
    targets = tuple(names[s.key] for s in plan.steps if s.key in plan.stale)
    # The file's variable defaults are these settings; the environment must not override them.
    builder, context = bake_target(settings, planned.remote)
    request = BakeRequest(bake_file, targets, settings.repo_root, run_dir / "build.log", builder=builder,
                          context=context, no_cache=options.no_cache,
                          push=(options.push or planned.remote is not None) and planned.registry_ok,
                          variables=emit.variable_values(settings), hold_fds=(lock_fd,))
    tracker = BuildTracker(_start_rows(plan), _candidates(project, plan), targets, time.monotonic())
    view = make_view(options.progress, io.echo, io.terminal)
    try:
        view.begin([f"{f}/{s}" for f, s in sorted(plan.stale)])
        _show(view, tracker.start())
        outcome = io.engine.bake(request, lambda line: _show(view, tracker.feed(line, time.monotonic())), io.cancel)
        _show(view, tracker.finish(outcome.returncode == 0 and not outcome.cancelled_by, time.monotonic()))
    finally:
        view.close()
    return _step_seconds(outcome, tracker, {f"{k[0]}/{k[1]}": names[k] for k in plan.stale})


def _step_seconds(outcome: BakeOutcome, tracker: BuildTracker, targets: dict[str, str]) -> BakeOutcome:
    """Each target's seconds as its step's row counted them: from its own first instruction to
    its export, not from whatever vertices buildx labelled with it (shared ones included); and
    BuildKit's own time, per step by the same attribution."""
    end = time.monotonic() - tracker.origin
    seconds = {targets[row.step]: round(elapsed, 2) for row in tracker.snapshot()
               if row.step in targets and (elapsed := row.elapsed(end)) is not None}
    from slcc.progress.timings import buildkit_time  # noqa: PLC0415

    buildkit = buildkit_time(tracker.parser.events, tracker.owners)
    return replace(outcome, progress=replace(outcome.progress, durations={**outcome.durations, **seconds},
                                             buildkit=buildkit))


def _start_rows(plan: Plan) -> list[StepRow]:
    from slcc.progress.records import StepRow  # noqa: PLC0415

    return [StepRow(f"{s.flavor}/{s.step}", "waiting" if s.key in plan.stale else "cached") for s in plan.steps]


def _show(view: ProgressView, events: Sequence[StepEvent]) -> None:
    for event in events:
        view.show(event)


def _candidates(project: Project, plan: Plan,
                built: set[StepKey] | None = None) -> dict[str, list[attribution.Candidate]]:
    """Per bake target: the steps that may own its vertices, its own first (slcc.progress.attribution)."""
    from slcc.emitting import emit  # noqa: PLC0415
    from slcc.progress import attribution  # noqa: PLC0415

    names = emit.target_names(project.flavors)
    steps = {}  # each stale step once: its Dockerfile is read once, however many steps build on it
    for key in plan.stale:
        flavor = project.flavor(key[0])
        steps[key] = attribution.Candidate(key, _read(flavor.steps[key[1]].dockerfile), key in (built or set()),
                                           _contexts(flavor, key[1]))
    below = {key: _stale_below(project.flavor(key[0]), key[1], plan) for key in plan.stale}
    return {names[key]: [steps[key], *(steps[StepKey(key[0], d)] for d in below[key])] for key in plan.stale}


def _contexts(flavor: Flavor, step: str) -> frozenset[str]:
    return frozenset([*flavor.steps[step].depends, *flavor.steps[step].mappings])


def _failed_step(project: Project, plan: Plan, outcome: BakeOutcome, built: set[StepKey],
                 log: Path | None = None) -> StepFailure | None:
    """The step whose instruction failed the bake (see slcc.progress.attribution)."""
    from slcc.progress import attribution  # noqa: PLC0415
    from slcc.progress.bake_log import fatal_failure  # noqa: PLC0415
    from slcc.progress.records import StepFailure  # noqa: PLC0415

    fatal = fatal_failure(outcome.progress)
    candidates = _candidates(project, plan, built).get(fatal.target) if fatal else None
    if fatal is None or not candidates:
        return None
    owner = attribution.owner(fatal, outcome.progress.snippet, candidates)
    return StepFailure(owner[0], owner[1], fatal.instruction, fatal.error, _output(log, fatal.instruction))


def _output(log: Path | None, instruction: str) -> tuple[str, ...]:
    """The failing instruction's last output lines, shown inline with the failure."""
    from slcc.progress.bake_log import instruction_output  # noqa: PLC0415

    try:
        return instruction_output(log.read_text(encoding="utf-8", errors="replace").splitlines(), instruction,
                                  FAILURE_TAIL) if log else ()
    except OSError:
        return ()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _stale_below(flavor: Flavor, step: str, plan: Plan) -> list[str]:
    """Stale dependencies of ``step``, nearest first (linear: every stale step asks, in big graphs too)."""
    order: list[str] = []
    seen: set[str] = set()
    queue = deque(flavor.steps[step].depends)
    while queue:
        dep = queue.popleft()
        if dep not in seen and (flavor.name, dep) in plan.stale:
            seen.add(dep)
            order.append(dep)
            queue.extend(flavor.steps[dep].depends)
    return order


def _built(project: Project, plan: Plan, outcome: BakeOutcome, io: BuildIO, remote: bool) -> set[StepKey]:
    """The stale steps whose images exist now: all after a good bake, else ask the image store
    (the registry, for a remote builder)."""
    if outcome.returncode == 0 and not outcome.cancelled_by:
        return set(plan.stale)
    try:
        present = (io.engine.registry_tags([plan.get(k).tag for k in plan.stale]) if remote else
                   io.engine.local_tags(f"{project.settings.repository}/{f.image_name}" for f in project.flavors))
    except EngineError as exc:  # the report must still be written: count nothing as built
        io.warn(f"cannot tell which images the failed build produced: {exc}")
        return set()
    return {k for k in plan.stale if plan.get(k).tag in present}


def _record(project: Project, plan: Plan, outcome: BakeOutcome, built: set[StepKey],
            failure: StepFailure | None, state: State,
            planned: Mapping[StepKey, StepResult]) -> dict[StepKey, StepResult]:
    """Each stale step's result after the bake (from its ``planned`` one); the manifest of every
    image that was built is kept."""
    from slcc.emitting import emit  # noqa: PLC0415

    names = emit.target_names(project.flavors)
    results = {}
    for key in plan.stale:
        buildkit = outcome.progress.buildkit
        result = replace(planned[key], seconds=outcome.durations.get(names[key], 0.0),
                         buildkit_seconds=buildkit.work.get(f"{key[0]}/{key[1]}") if buildkit else None)
        if key in built:
            result = replace(result, status="built")
            state.save_manifest(plan.get(key).hash.manifest())
        elif failure and key == failure.key and not outcome.cancelled_by:
            # steps cancelled by that failure stay "not-built"
            result = replace(result, status="failed", failure=failure)
        results[key] = result
    return results


def _failure_message(outcome: BakeOutcome, failure: StepFailure | None, log: Path) -> str:
    if outcome.cancelled_by:
        return f"interrupted ({outcome.cancelled_by}) (full log: {log})"
    if failure:
        where = f"step {failure.flavor}/{failure.step} failed at `{failure.instruction}`"
        return f"{where}: {failure.error} (full log: {log})"
    errors = outcome.progress.error_lines
    detail = errors[-1] if errors else f"docker buildx bake exited {outcome.returncode}"
    return f"{detail} (full log: {log})"
