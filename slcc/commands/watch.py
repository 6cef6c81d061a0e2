"""`slcc watch`: rebuild what a source change affects, in a loop, until Ctrl-C.

The loop is a small state machine around pure parts that tests drive without Docker or
watchdog: ``ChangeBatcher`` turns a stream of changed paths into batches (debounce with a
cap), ``steps_using``/``affected_steps`` map a batch to steps, and ``watch_plan`` decides
which directories to watch. ``Watcher`` wires them to watchdog and to ``build()``.

Freshness is still decided by content hashes: the mapping from paths to steps only decides
*whether* a cycle starts a build (and what the status line says); the build itself rebuilds
exactly the steps whose hash changed.
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

from slcc.commands.build import BuildFailed, BuildIO, BuildOptions, BuildReport, build
from slcc.engine.protocol import Cancelled, CancelToken, Engine
from slcc.errors import InputError, SlccError
from slcc.loading.dockerignore import IgnoreMatcher
from slcc.loading.flavor import load_flavor
from slcc.loading.graph import closure, dependents
from slcc.loading.project import Project
from slcc.model import Flavor, Step
from slcc.vocabulary import CycleResult, Progress

# Never part of a build input that matters, or rewritten by every editor save / test run.
IGNORED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache",
                          ".ruff_cache"})
# vim swap files and its 4913 write probe, emacs lock files (.#x) and backups (x~).
_EDITOR_TEMP = re.compile(r"^(?:4913|\.#.*|.*~|.*\.sw[a-px])$")
MAX_WATCHES_FILE = Path("/proc/sys/fs/inotify/max_user_watches")

Result = CycleResult


# --- batching --------------------------------------------------------------------------------


Change = Literal["created", "changed", "gone"]


@dataclass
class ChangeBatcher:
    """Collects changed paths until the stream is quiet, or ``cap`` s passed.

    The quiet period adapts: a change after a quiet spell (a single save: an editor writes
    and renames within milliseconds) builds once nothing moved for ``settle`` s; a batch whose
    changes keep coming for longer than ``settle`` (a checkout, a formatter, several saves),
    or that starts within ``quiet`` s of the previous one, waits for ``quiet`` s of quiet.
    The cap makes a never-ending stream of events (a generator writing files) still build.
    A path created and gone again within one batch (an editor's temp file, renamed over the
    real one) is dropped: it changed nothing. Not thread-safe: the caller holds a lock.
    """

    quiet: float = 0.15
    cap: float = 2.0
    settle: float = 0.03  # stillness after which a lone change counts as finished
    _paths: dict[Path, None] = field(default_factory=dict)
    _created: set[Path] = field(default_factory=set)  # new in this batch, not there before it
    _first: float = 0.0
    _last: float = 0.0
    _burst: bool = False  # this batch needs the full quiet period
    _previous: float | None = None  # the last change of the previous batch

    def feed(self, path: Path, now: float, change: Change = "changed") -> None:
        if not self._paths:
            self._first = now
            self._burst = self._previous is not None and now - self._previous < self.quiet
        elif now - self._first > self.settle:
            self._burst = True
        self._last = now
        if change == "gone" and path in self._created:
            self._created.discard(path)
            del self._paths[path]
            return
        if change == "created" and path not in self._paths:
            self._created.add(path)
        self._paths[path] = None

    @property
    def pending(self) -> tuple[Path, ...]:
        return tuple(self._paths)

    @property
    def _quiet_now(self) -> float:
        return self.quiet if self._burst else min(self.settle, self.quiet)

    def ready(self, now: float) -> bool:
        return bool(self._paths) and (now - self._last >= self._quiet_now or now - self._first >= self.cap)

    def wait_time(self, now: float) -> float | None:
        """Seconds until ``ready`` can turn true without another feed; None when nothing is pending."""
        if not self._paths:
            return None
        return max(0.0, min(self._last + self._quiet_now, self._first + self.cap) - now)

    def drain(self) -> list[Path]:
        """The batch in arrival order (each path once); the batcher is empty afterwards."""
        paths = list(self._paths)
        if paths:
            self._previous = self._last
        self._paths.clear()
        self._created.clear()
        return paths


# --- paths to steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PathFilter:
    """Paths that never start a build: VCS and cache directories, editor temp files, and
    slcc's own state and bake directories (``skipped_roots``)."""

    repo_root: Path
    skipped_roots: tuple[Path, ...] = ()

    def __call__(self, path: Path) -> bool:
        if _EDITOR_TEMP.match(path.name) or any(path.is_relative_to(r) for r in self.skipped_roots):
            return True
        # Only the part inside the repository counts: a checkout may live below any directory.
        parts = path.relative_to(self.repo_root).parts if path.is_relative_to(self.repo_root) else path.parts
        return any(part in IGNORED_DIRS for part in parts)


def _related(path: Path, root: Path) -> bool:
    """``path`` is inside ``root``, or is ``root`` or a parent of it (deleted or moved wholesale)."""
    return path.is_relative_to(root) or root.is_relative_to(path)


def _matcher(ignore_file: Path) -> IgnoreMatcher | None:
    """The patterns of ``ignore_file``; None when unreadable (then every path counts)."""
    try:
        return IgnoreMatcher.from_file(ignore_file)
    except InputError:
        return None


def _step_files(flavor: Flavor, step: Step) -> list[Path]:
    """Single files that decide a step's hash or what its trees hold."""
    specific = step.dockerfile.with_name(step.dockerfile.name + ".dockerignore")
    dir_maps = [flavor.mappings[name] for name in step.mappings if flavor.mappings[name].is_dir()]
    file_maps = [flavor.mappings[name] for name in step.mappings if not flavor.mappings[name].is_dir()]
    # Extra context files, file mappings and the packages.yml a generated package file comes from.
    extra = [*step.files.values(), *file_maps, *(flavor.package_files if step.generated else ())]
    extra += [t for name in step.mappings if name in flavor.follow_links and flavor.mappings[name].is_dir()
              for t in _followed(flavor.mappings[name]) if not t.is_dir()]
    return [step.dockerfile, specific, step.context / ".dockerignore", *(d / ".dockerignore" for d in dir_maps),
            *extra]


def _followed(root: Path) -> list[Path]:
    """What the symlinks below ``root`` point to, transitively: a mapping with follow_symlinks hashes them."""
    found: list[Path] = []
    queue, seen = [root], {root.resolve()}
    while queue:
        for dirpath, dirnames, filenames in os.walk(queue.pop()):
            for name in [*dirnames, *filenames]:
                path = Path(dirpath) / name
                if path.is_symlink():
                    target = path.resolve()
                    if target not in seen and target.exists():
                        seen.add(target)
                        found.append(target)
                        if target.is_dir():
                            queue.append(target)
    return found


def _step_trees(flavor: Flavor, step: Step) -> list[tuple[Path, IgnoreMatcher | None]]:
    """The directories hashed for a step, with the ignore rules stephash applies to each."""
    specific = step.dockerfile.with_name(step.dockerfile.name + ".dockerignore")
    # BuildKit prefers <Dockerfile>.dockerignore over the context's; a mapping (named context) has its own.
    trees = [(step.context, _matcher(specific if specific.is_file() else step.context / ".dockerignore"))]
    for name in step.mappings:
        root = flavor.mappings[name]
        if not root.is_dir():
            continue  # a file mapping: in _step_files
        trees.append((root, _matcher(root / ".dockerignore")))
        if name in flavor.follow_links:
            trees += [(target, None) for target in _followed(root) if target.is_dir()]
    return trees


def _in_tree(root: Path, matcher: IgnoreMatcher | None, path: Path) -> bool:
    if not _related(path, root):
        return False
    if matcher is None or not path.is_relative_to(root) or path == root:
        return True
    rel = path.relative_to(root).as_posix()
    return not (matcher.is_ignored(rel) and not matcher.may_reinclude_below(rel))


def step_uses(flavor: Flavor, step: Step, paths: Iterable[Path]) -> bool:
    """Can a change at one of ``paths`` change ``step``'s hash? Mirrors the inputs stephash reads."""
    files = _step_files(flavor, step)
    trees = _step_trees(flavor, step)
    return any(
        any(_related(p, f) for f in files) or any(_in_tree(root, m, p) for root, m in trees) for p in paths
    )


def steps_using(flavor: Flavor, paths: Iterable[Path]) -> set[str]:
    """Steps (needed or not) with an input at one of ``paths``."""
    paths = list(paths)
    return {step.name for step in flavor.steps.values() if step_uses(flavor, step, paths)}


def affected_steps(flavor: Flavor, goals: Sequence[str], changed_paths: Iterable[Path]) -> set[str]:
    """Steps to rebuild: those using a changed path, and their dependents, as far as the goals need."""
    depends = {s.name: s.depends for s in flavor.steps.values()}
    return dependents(steps_using(flavor, changed_paths), depends) & closure(goals, depends)


def needs_reload(flavor: Flavor, paths: Iterable[Path]) -> bool:
    """flavor.toml or a Dockerfile changed: re-read the flavor (Dockerfiles decide args and references)."""
    files = [flavor.toml_path, *(s.dockerfile for s in flavor.steps.values())]
    return any(_related(p, f) for p in paths for f in files)


# --- what to watch ----------------------------------------------------------------------------

Watch = tuple[Path, bool]  # (directory, recursive)


def _cover(root: Path, pruned: Callable[[Path], bool]) -> tuple[bool, list[Watch]]:
    """Watches for ``root`` without its pruned subtrees; True when nothing below was pruned.

    A clean subtree is one recursive watch (one watchdog emitter); a directory with a pruned
    child is watched alone and its other children are covered the same way.
    """
    try:
        with os.scandir(root) as entries:
            children = sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
    except OSError:  # vanished or unreadable: the next cycle sees the change
        return True, [(root, True)]
    kept = [c for c in children if not pruned(c)]
    covers = [_cover(c, pruned) for c in kept]
    if len(kept) == len(children) and all(clean for clean, _ in covers):
        return True, [(root, True)]
    watches: list[Watch] = [(root, False)]
    for _, sub in covers:
        watches.extend(sub)
    return False, watches


def _merge(watches: Iterable[Watch]) -> set[Watch]:
    """Drop watches that a recursive watch on the same directory or a parent already covers."""
    recursive = {p for p, rec in watches if rec}
    merged: set[Watch] = set()
    for path, rec in set(watches):
        covered = any(path.is_relative_to(r) and (path != r or not rec) for r in recursive)
        if not covered:
            merged.add((path, rec))
    return merged


def watch_plan(flavor: Flavor, ignored: Callable[[Path], bool]) -> set[Watch]:
    """Directories to watch for ``flavor``, with ignored trees pruned before any watch exists.

    Directories, never single files: editors save by writing a temp file and renaming it over
    the original, which a watch on the file itself would lose.
    """
    watches: list[Watch] = [(flavor.directory, False)]  # flavor.toml
    for step in flavor.steps.values():
        watches.append((step.dockerfile.parent, False))  # the Dockerfile may live outside the context
        # Single input files outside the trees: watched through their directory (save-by-rename).
        watches += [(f.parent, False) for f in _step_files(flavor, step)[3:] if f.parent.is_dir()]
        for root, matcher in _step_trees(flavor, step):

            def pruned(d: Path, root: Path = root, matcher: IgnoreMatcher | None = matcher) -> bool:
                return ignored(d) or not _in_tree(root, matcher, d)

            watches += _cover(root, pruned)[1]
    return _merge(watches)


# --- cycles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cycle:
    """One turn of the loop, as the status line and the --json object report it."""

    number: int
    changed: tuple[str, ...]  # paths relative to the repository root
    result: Result
    steps: tuple[str, ...] = ()  # the steps rebuilt (or that would have been)
    seconds: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)  # goal step -> image tag
    detail: str = ""  # why ignored, or the error
    build_seconds: float | None = None  # the cycle's build (report seconds), when it built
    bake_seconds: float | None = None  # the bake process in that build, when it baked
    buildkit_seconds: float | None = None  # BuildKit's own span in that bake

    def as_json(self) -> dict[str, Any]:
        return {"cycle": self.number, "changed": list(self.changed), "result": self.result,
                "steps": list(self.steps), "seconds": self.seconds, "tags": dict(self.tags),
                "detail": self.detail, "build_seconds": self.build_seconds, "bake_seconds": self.bake_seconds,
                "buildkit_seconds": self.buildkit_seconds}

    def line(self) -> str:
        what = "initial build" if not self.changed else self.changed[0]
        if len(self.changed) > 1:
            what += f" and {len(self.changed) - 1} more"
        if self.result == "ignored":
            return f"[{self.number}] {what}: ignored: {self.detail}"
        if self.result in ("error", "restarted"):
            return f"[{self.number}] {what}: {self.result}: {self.detail}"
        rebuilt = f"rebuilt {', '.join(self.steps)}" if self.steps else "nothing stale"
        text = f"[{self.number}] {what} -> {rebuilt}: {self.result} ({self.seconds:.2f} s)"
        if self.result == "ok":
            return text + "  " + " ".join(self.tags.values())
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(frozen=True)
class WatchOptions:
    goals: Sequence[str] = ()
    debounce: float = 0.15  # seconds of quiet before a burst of changes builds
    cap: float = 2.0  # a batch builds at the latest this long after its first change
    restart: bool = False  # cancel a running bake on a relevant change instead of queueing it
    exec_cmd: str | None = None  # shell command after each successful build
    progress: Progress = "auto"
    settle: float = 0.03  # seconds of quiet before a lone change (one save) builds


@dataclass(frozen=True)
class WatchOutput:
    """Where the loop reports: one call per cycle, build progress lines, warnings."""

    cycle: Callable[[Cycle], None]
    echo: Callable[[str], None]
    warn: Callable[[str], None]
    terminal: TextIO | None = None  # where each cycle's live build view draws (see BuildIO)


class WatchLimitError(SlccError):
    """The kernel refused another inotify watch."""


def watch_limit_message(exc: OSError) -> str:
    try:
        limit = MAX_WATCHES_FILE.read_text().strip()
    except OSError:
        limit = "?"
    if exc.errno == errno.EMFILE:
        return ("inotify instance limit reached (fs.inotify.max_user_instances); raise it with "
                "`sudo sysctl fs.inotify.max_user_instances=1024`")
    return (f"inotify watch limit reached (fs.inotify.max_user_watches={limit}); raise it with "
            "`sudo sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/), "
            "or ignore big directories in .dockerignore")


class Observer(Protocol):
    """The part of a watchdog observer the loop uses (a fake in tests)."""

    def schedule(self, event_handler: Any, path: str, *, recursive: bool = False) -> Any: ...

    def unschedule(self, watch: Any) -> None: ...


class Watches:
    """The watchdog watches currently scheduled, brought in line with a plan."""

    def __init__(self, observer: Observer, handler: Any) -> None:
        self._observer = observer
        self._handler = handler
        self._current: dict[Watch, Any] = {}

    def refresh(self, plan: set[Watch]) -> None:
        """Schedule new watches before dropping old ones, so no change slips through a gap."""
        for path, recursive in sorted(plan - set(self._current)):
            if not path.is_dir():
                continue  # deleted meanwhile; its parent's watch reports that
            try:
                self._current[(path, recursive)] = self._observer.schedule(
                    self._handler, str(path), recursive=recursive)
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EMFILE):
                    raise WatchLimitError(watch_limit_message(exc)) from None
                if exc.errno != errno.ENOENT:
                    raise
        for key in set(self._current) - plan:
            self._observer.unschedule(self._current.pop(key))

    def __len__(self) -> int:
        return len(self._current)


# Event types that can change a build input; directory "modified" events only repeat what
# the events of their entries say, and open/close-without-write change nothing.
_RELEVANT_EVENTS = frozenset({"created", "modified", "deleted", "moved", "closed"})
_SOURCE_CHANGE: dict[str, Change] = {"created": "created", "deleted": "gone", "moved": "gone"}


class Watcher:
    """The watch loop: initial build, then one build per batch of relevant changes."""

    def __init__(self, project: Project, options: WatchOptions, output: WatchOutput,
                 observer: Observer, engine: Engine) -> None:
        if len(project.flavors) != 1:
            names = ", ".join(f.name for f in project.flavors)
            raise InputError(f"watch takes one flavor; name one of: {names}")
        project.goals(options.goals)  # bad goals are bad input: exit 2 before watching
        self.project = project
        self.options = options
        self.output = output
        self.engine = engine
        settings = project.settings
        self.ignored = PathFilter(settings.repo_root, (settings.state_dir, settings.bake_dir))
        self.watches = Watches(observer, self)
        self._batcher = ChangeBatcher(options.debounce, options.cap, options.settle)
        self._cond = threading.Condition()
        self._number = 0
        self._broken = False  # flavor.toml or a Dockerfile did not load: reload on every change
        self._running: CancelToken | None = None  # the running build's token, with --restart

    @property
    def flavor(self) -> Flavor:
        return self.project.flavors[0]

    # -- called on watchdog's thread
    def dispatch(self, event: Any) -> None:
        """The watchdog event handler interface: queue the event's paths."""
        kind = event.event_type
        if kind not in _RELEVANT_EVENTS or (event.is_directory and kind == "modified"):
            return
        now = time.monotonic()
        # A rename's destination may have replaced a file that existed before: "changed".
        source: Change = _SOURCE_CHANGE.get(kind, "changed")
        destination: Change = "changed"
        for raw, change in ((event.src_path, source), (getattr(event, "dest_path", ""), destination)):
            path = Path(os.fsdecode(raw)) if raw else None
            if path is not None and not self.ignored(path):
                with self._cond:
                    self._batcher.feed(path, now, change)
                    self._cond.notify()
        self._restart_if_relevant()

    # -- the loop, on the main thread
    def run(self) -> None:
        """Build, then watch until KeyboardInterrupt (which propagates)."""
        self.watches.refresh(watch_plan(self.flavor, self.ignored))
        self._report(self.cycle([]))
        while True:
            self._report(self.cycle(self.next_batch()))

    def next_batch(self) -> list[Path]:
        with self._cond:
            while not self._batcher.ready(time.monotonic()):
                self._cond.wait(self._batcher.wait_time(time.monotonic()))
            return self._batcher.drain()

    def cycle(self, paths: list[Path]) -> Cycle:
        """Handle one batch (empty: the initial build) and say what happened."""
        start = time.monotonic()
        self._number += 1
        changed = tuple(self._rel(p) for p in paths)

        def done(result: Result, steps: Iterable[str] = (), detail: str = "",
                 report: BuildReport | None = None) -> Cycle:
            return Cycle(self._number, changed, result, tuple(steps), round(time.monotonic() - start, 2),
                         self._goal_tags(report), detail, report.seconds if report else None,
                         report.bake_seconds if report else None, report.buildkit_seconds if report else None)

        # Always: a memoised tree holding a changed path is out of date, whatever this cycle does.
        self.project.hasher.forget(set(paths))
        if paths and (self._broken or needs_reload(self.flavor, paths)):
            if error := self._reload():
                return done("error", detail=error)
        elif any(p.is_dir() for p in paths):
            self.watches.refresh(watch_plan(self.flavor, self.ignored))  # a new directory to watch
        # flavor.toml can change anything (args, goals, steps): let the hashes decide.
        flavor = self.flavor
        if paths and flavor.toml_path not in paths and not affected_steps(flavor, self._goals(), paths):
            used = steps_using(flavor, paths)
            return done("ignored", detail="not needed by goals" if used else "no step uses it")
        return self._build(done)

    def _build(self, done: Callable[..., Cycle]) -> Cycle:
        options = BuildOptions(goals=self.options.goals, progress=self.options.progress)
        token = CancelToken()
        io = BuildIO(self.output.warn, self.output.echo, self.engine, token, self.output.terminal)
        with self._cond:
            self._running = token if self.options.restart else None
        self._restart_if_relevant()  # changes that arrived while this cycle was being prepared
        try:
            report = build(self.project, options, io)
        except BuildFailed as exc:
            return done("failed", _rebuilt(exc.report), exc.report.error or "build failed", exc.report)
        except Cancelled as exc:
            if exc.reason != "watch-restart":
                raise  # Ctrl-C or a signal ends watch, even while a restart was stopping bake
            return done("restarted", detail="a change arrived; bake stopped, building again")
        except SlccError as exc:  # engine down, unreadable file: report it and keep watching
            return done("error", detail=str(exc))
        finally:
            with self._cond:
                self._running = None
        return done("ok", _rebuilt(report), report=report)

    def _restart_if_relevant(self) -> bool:
        """With --restart: cancel the running build when a pending change is one it should include."""
        with self._cond:
            pending, token = self._batcher.pending, self._running
        if token is None or not pending:
            return False
        flavor = self.flavor
        if needs_reload(flavor, pending) or affected_steps(flavor, self._goals(), pending):
            token.cancel("watch-restart")
            return True
        return False

    def _reload(self) -> str | None:
        """Re-read the flavor and re-plan the watches; returns the one-line error instead, if any."""
        try:
            root = self.project.settings.repo_root
            flavor = load_flavor(root, str(self.flavor.directory), self.output.warn)
            previous, self.project.flavors[0] = self.flavor, flavor
            try:
                self.project.goals(self.options.goals)  # a goal may have disappeared
            except SlccError:
                self.project.flavors[0] = previous
                raise
        except SlccError as exc:
            self._broken = True
            return str(exc)
        self._broken = False
        self.project.hasher.forget()
        self.watches.refresh(watch_plan(flavor, self.ignored))
        return None

    def _goals(self) -> tuple[str, ...]:
        return self.project.goals(self.options.goals).get(self.flavor.name, ())

    def _goal_tags(self, report: BuildReport | None) -> dict[str, str]:
        if report is None:
            return {}
        goals = set(self._goals())
        return {s.step: s.tag for s in report.steps if s.step in goals}

    def _rel(self, path: Path) -> str:
        root = self.project.settings.repo_root
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)

    def _report(self, cycle: Cycle) -> None:
        self.output.cycle(cycle)
        if cycle.result == "ok" and self.options.exec_cmd:
            self._exec(self.options.exec_cmd, list(cycle.tags.values()))

    def _exec(self, command: str, tags: list[str]) -> None:
        env = {**os.environ, "SLCC_TAGS": " ".join(tags), "SLCC_TAG": tags[0] if tags else ""}
        code = self.engine.run_shell(command, env)
        if code != 0:
            self.output.warn(f"--exec command exited {code}")


def _rebuilt(report: BuildReport) -> list[str]:
    return [s.step for s in report.steps if s.status in ("built", "failed")]


def watch(project: Project, options: WatchOptions, output: WatchOutput, engine: Engine) -> None:
    """Run the watch loop until Ctrl-C; KeyboardInterrupt propagates after watchdog stopped."""
    from watchdog.observers import Observer as WatchdogObserver  # noqa: PLC0415 - only `watch` needs it

    observer = WatchdogObserver()
    watcher = Watcher(project, options, output, observer, engine)
    observer.start()  # before scheduling, so a refused watch raises in schedule() here
    try:
        watcher.run()
    finally:
        observer.stop()
        observer.join(timeout=10)
