"""The watch loop's pure parts, without Docker or watchdog: batching, path -> step mapping,
what to watch, and one cycle with a stand-in build."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest

from slcc.commands import watch
from slcc.commands.build import BuildFailed, BuildReport, StepResult
from slcc.commands.watch import (
    ChangeBatcher,
    Cycle,
    PathFilter,
    Watcher,
    Watches,
    WatchLimitError,
    WatchOptions,
    WatchOutput,
    affected_steps,
    needs_reload,
    steps_using,
    watch_plan,
)
from slcc.engine.protocol import Cancelled, CancelToken
from slcc.loading.flavor import load_flavor
from slcc.loading.project import open_project
from slcc.model import Flavor
from tests.fakes import FakeEngine
from tests.helpers import DEMO_FILES, fake_digests, make_repo, write_files

# demo (base <- app, app maps src) plus: `other`, needed by no goal; `ext`, whose Dockerfile
# lives outside its context; a .dockerignore in base's context.
FLAVOR_TOML = DEMO_FILES["flavors/demo/flavor.toml"] + """
[steps.other]

[steps.ext]
depends = ["base"]
dockerfile = "../dockerfiles/ext.Dockerfile"
"""
EXTRA_FILES = {
    "flavors/demo/flavor.toml": FLAVOR_TOML,
    "flavors/demo/other/Dockerfile": "FROM scratch\n",
    "flavors/demo/ext/data.txt": "data\n",
    "flavors/demo/dockerfiles/ext.Dockerfile": "FROM base\nCOPY data.txt /\n",
    "flavors/demo/base/.dockerignore": "scratch/\n",
    "flavors/demo/base/scratch/big.bin": "ignored\n",
    "README.md": "docs\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", EXTRA_FILES).resolve()


@pytest.fixture
def flavor(repo: Path) -> Flavor:
    return load_flavor(repo, "demo")


# --- ChangeBatcher -------------------------------------------------------------------------------


def test_batcher_builds_a_lone_save_once_it_settled() -> None:
    batcher = ChangeBatcher(quiet=0.15, cap=2.0, settle=0.03)
    assert not batcher.ready(0.0) and batcher.wait_time(0.0) is None
    batcher.feed(Path(".a.swp"), 10.000, "created")  # an editor's save: temp file, rename, within ms
    batcher.feed(Path(".a.swp"), 10.002, "gone")
    batcher.feed(Path("a"), 10.002)
    assert not batcher.ready(10.02)
    assert batcher.wait_time(10.02) == pytest.approx(0.012)
    assert batcher.ready(10.033)  # not the whole 0.15 s debounce
    assert batcher.drain() == [Path("a")]


def test_batcher_waits_the_full_quiet_period_for_a_burst() -> None:
    batcher = ChangeBatcher(quiet=0.15, cap=2.0, settle=0.03)
    batcher.feed(Path("a"), 10.0)
    batcher.feed(Path("b"), 10.05)  # still changing after the settle time: a burst (a checkout, a formatter)
    assert not batcher.ready(10.1)
    assert batcher.wait_time(10.1) == pytest.approx(0.1)
    batcher.feed(Path("c"), 10.15)  # a new change restarts the quiet period
    assert not batcher.ready(10.29)
    assert batcher.ready(10.31)


def test_batcher_treats_a_change_right_after_a_batch_as_part_of_a_burst() -> None:
    batcher = ChangeBatcher(quiet=0.15, cap=2.0, settle=0.03)
    batcher.feed(Path("a"), 0.0)
    assert batcher.ready(0.04)
    batcher.drain()
    batcher.feed(Path("b"), 0.1)  # 0.1 s after the last change: the stream goes on
    assert not batcher.ready(0.14) and not batcher.ready(0.24)
    assert batcher.ready(0.26)
    batcher.drain()
    batcher.feed(Path("c"), 5.0)  # after a quiet spell a lone save is quick again
    assert batcher.ready(5.04)


def test_batcher_with_settle_at_least_debounce_waits_the_debounce() -> None:
    batcher = ChangeBatcher(quiet=0.15, cap=2.0, settle=0.5)
    batcher.feed(Path("a"), 10.0)
    assert not batcher.ready(10.1)
    assert batcher.ready(10.16)


def test_batcher_cap_fires_during_a_continuous_stream() -> None:
    batcher = ChangeBatcher(quiet=0.15, cap=2.0)
    batcher.feed(Path("first"), -0.1)  # the stream's first change built alone, at once
    assert batcher.ready(-0.06) and batcher.drain() == [Path("first")]
    now = 0.0
    while not batcher.ready(now):
        batcher.feed(Path(f"f{int(now * 10)}"), now)
        now = round(now + 0.1, 1)
    assert now == 2.0  # never quiet, but built once the cap passed
    assert len(batcher.drain()) == 20


def test_batcher_coalesces_repeated_paths_and_drains_in_order() -> None:
    batcher = ChangeBatcher()
    for path in ["b", "a", "b", "a", "c"]:
        batcher.feed(Path(path), 1.0)
    assert batcher.pending == (Path("b"), Path("a"), Path("c"))
    assert batcher.drain() == [Path("b"), Path("a"), Path("c")]
    assert batcher.drain() == [] and not batcher.ready(100.0)


def test_batcher_cap_counts_from_the_first_change_of_a_batch() -> None:
    batcher = ChangeBatcher(quiet=1.0, cap=2.0)
    batcher.feed(Path("a"), 0.0)
    batcher.drain()
    for now in (5.0, 5.8, 6.6):  # a new batch, never quiet for 1 s: its own cap, from 5.0
        batcher.feed(Path("b"), now)
    assert not batcher.ready(6.9)
    assert batcher.ready(7.0)


# --- paths -> steps ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changed", "goals", "expected"),
    [
        pytest.param(["src/main.txt"], ["app"], {"app"}, id="mapping"),
        pytest.param(["src/new/deep.txt"], ["app"], {"app"}, id="new-file-in-mapping"),
        pytest.param(["flavors/demo/base/hello.txt"], ["app"], {"base", "app"}, id="context-and-dependents"),
        pytest.param(["flavors/demo/base/Dockerfile"], ["app"], {"base", "app"}, id="dockerfile"),
        pytest.param(["flavors/demo/base/.dockerignore"], ["app"], {"base", "app"}, id="dockerignore-file"),
        pytest.param(["flavors/demo/base/scratch/big.bin"], ["app"], set(), id="dockerignored"),
        pytest.param(["flavors/demo/base"], ["app"], {"base", "app"}, id="context-replaced"),
        pytest.param(["flavors/demo/other/Dockerfile"], ["app"], set(), id="not-needed-by-goals"),
        pytest.param(["flavors/demo/other/Dockerfile"], ["app", "other"], {"other"}, id="needed-goal"),
        pytest.param(["flavors/demo/dockerfiles/ext.Dockerfile"], ["ext"], {"ext"}, id="dockerfile-outside-context"),
        pytest.param(["flavors/demo/dockerfiles/notes.txt"], ["ext"], set(), id="beside-outside-dockerfile"),
        pytest.param(["flavors/demo/ext/data.txt"], ["app", "ext"], {"ext"}, id="other-goal"),
        pytest.param(["README.md"], ["app"], set(), id="unrelated"),
        pytest.param(["README.md", "src/main.txt"], ["app"], {"app"}, id="mixed-batch"),
    ],
)
def test_affected_steps(repo: Path, flavor: Flavor, changed: list[str], goals: list[str], expected: set[str]) -> None:
    assert affected_steps(flavor, goals, [repo / p for p in changed]) == expected


def test_steps_using_tells_unused_from_not_needed(repo: Path, flavor: Flavor) -> None:
    assert steps_using(flavor, [repo / "flavors/demo/other/Dockerfile"]) == {"other"}
    assert steps_using(flavor, [repo / "README.md"]) == set()


def test_a_mappings_own_dockerignore_is_honoured(repo: Path) -> None:
    write_files(repo, {"src/.dockerignore": "build/\n"})
    flavor = load_flavor(repo, "demo")
    assert affected_steps(flavor, ["app"], [repo / "src/build/out.o"]) == set()
    assert affected_steps(flavor, ["app"], [repo / "src/.dockerignore"]) == {"app"}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ("flavors/demo/flavor.toml", True),
        ("flavors/demo/app/Dockerfile", True),
        ("flavors/demo/dockerfiles/ext.Dockerfile", True),
        ("flavors/demo", True),  # the whole flavor moved away
        ("src/main.txt", False),
        ("flavors/demo/base/hello.txt", False),
    ],
)
def test_needs_reload(repo: Path, flavor: Flavor, changed: str, expected: bool) -> None:
    assert needs_reload(flavor, [repo / changed]) is expected


@pytest.mark.parametrize(
    ("rel", "ignored"),
    [
        (".git/index", True),
        ("src/__pycache__/m.cpython-311.pyc", True),
        ("src/.main.txt.swp", True),
        ("src/main.txt.swx", True),
        ("src/main.txt~", True),
        ("src/.#main.txt", True),
        ("src/4913", True),
        (".slcc/runs/x/build.log", True),
        ("bake/demo.hcl", True),
        ("src/main.txt", False),
        ("src/4913.txt", False),
        ("flavors/demo/flavor.toml", False),
    ],
)
def test_path_filter(tmp_path: Path, rel: str, ignored: bool) -> None:
    path_filter = PathFilter(tmp_path, (tmp_path / ".slcc", tmp_path / "bake"))
    assert path_filter(tmp_path / rel) is ignored


def test_path_filter_looks_only_inside_the_repository(tmp_path: Path) -> None:
    root = tmp_path / ".git" / "checkout"
    assert not PathFilter(root)(root / "src" / "main.txt")


# --- what to watch ---------------------------------------------------------------------------


def test_watch_plan_prunes_ignored_trees(repo: Path) -> None:
    write_files(repo, {"src/__pycache__/m.pyc": "x", "src/pkg/a.py": "", "src/.git/HEAD": "x"})
    flavor = load_flavor(repo, "demo")
    plan = watch_plan(flavor, PathFilter(repo))
    watched = {p.relative_to(repo).as_posix() for p, _ in plan}
    assert ("flavors/demo/base/scratch") not in watched and "src/__pycache__" not in watched
    assert "src/.git" not in watched
    # base has a pruned child: watched alone; src likewise; its clean child pkg recursively.
    assert (repo / "flavors/demo/base", False) in plan
    assert (repo / "src", False) in plan and (repo / "src/pkg", True) in plan
    # clean trees get one recursive watch; the flavor dir (flavor.toml) and the outside
    # Dockerfile's directory are watched without their subtrees.
    assert (repo / "flavors/demo/app", True) in plan
    assert (repo / "flavors/demo", False) in plan
    assert (repo / "flavors/demo/dockerfiles", False) in plan
    assert not any(p == repo for p, _ in plan)  # never the whole repository (.git, .slcc, bake/)


def test_watch_plan_merges_watches_covered_by_a_recursive_one(repo: Path) -> None:
    plan = watch_plan(load_flavor(repo, "demo"), PathFilter(repo))
    # app's Dockerfile directory is its context, already watched recursively
    assert (repo / "flavors/demo/app", False) not in plan


class FakeObserver:
    """Records every schedule/unschedule call in order, like watchdog's observer would see them."""

    def __init__(self, fail: int | None = None) -> None:
        self.fail = fail
        self.scheduled: dict[int, tuple[str, bool]] = {}
        self.calls: list[tuple[str, str]] = []
        self._next_id = 0

    def schedule(self, event_handler: Any, path: str, *, recursive: bool = False) -> int:
        if self.fail is not None:
            raise OSError(self.fail, "refused")
        self._next_id += 1  # ids never reused, unlike len(scheduled) after an unschedule
        self.scheduled[self._next_id] = (path, recursive)
        self.calls.append(("schedule", path))
        return self._next_id

    def unschedule(self, watch: Any) -> None:
        path, _ = self.scheduled.pop(watch)
        self.calls.append(("unschedule", path))


def test_watches_refresh_adds_before_it_removes(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    observer = FakeObserver()
    watches = Watches(observer, handler=None)
    watches.refresh({(tmp_path / "a", True), (tmp_path / "b", True)})
    observer.calls.clear()
    watches.refresh({(tmp_path / "b", True), (tmp_path / "c", True), (tmp_path / "gone", True)})
    assert observer.calls == [("schedule", str(tmp_path / "c")), ("unschedule", str(tmp_path / "a"))]
    assert sorted(observer.scheduled.values()) == [(str(tmp_path / "b"), True), (str(tmp_path / "c"), True)]
    assert len(watches) == 2


@pytest.mark.parametrize(("code", "advice"), [(errno.ENOSPC, "sysctl fs.inotify.max_user_watches="),
                                                (errno.EMFILE, "sysctl fs.inotify.max_user_instances=")])
def test_watch_limit_says_how_to_raise_it(tmp_path: Path, code: int, advice: str) -> None:
    watches = Watches(FakeObserver(fail=code), handler=None)
    with pytest.raises(WatchLimitError, match=advice):
        watches.refresh({(tmp_path, True)})


# --- cycles ------------------------------------------------------------------------------------


def test_status_line() -> None:
    ok = Cycle(3, ("src/main.txt", "src/a", "src/b"), "ok", ("app",), 1.234, {"app": "r/demo:app-1"})
    assert ok.line() == "[3] src/main.txt and 2 more -> rebuilt app: ok (1.23 s)  r/demo:app-1"
    ignored = Cycle(4, ("flavors/demo/other/x",), "ignored", detail="not needed by goals")
    assert ignored.line() == "[4] flavors/demo/other/x: ignored: not needed by goals"
    assert Cycle(1, (), "ok", ("base", "app")).line().startswith("[1] initial build -> rebuilt base, app: ok")
    failed = Cycle(5, ("a",), "failed", ("app",), 0.5, detail="step demo/app failed at `RUN exit 1`")
    assert failed.line().endswith("failed (0.50 s): step demo/app failed at `RUN exit 1`")
    assert ok.as_json()["tags"] == {"app": "r/demo:app-1"}
    restarted = Cycle(6, ("src/main.txt",), "restarted", detail="a change arrived")
    assert restarted.line() == "[6] src/main.txt: restarted: a change arrived"


class StubBuild:
    """Stands in for slcc.commands.build.build: records calls, fails when told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self, project: Any, options: Any, io: Any) -> BuildReport:
        self.calls += 1
        steps = (StepResult("demo", "app", "failed" if self.fail else "built", "r/demo:app-x", "x"),)
        report = BuildReport(ok=not self.fail, steps=steps, seconds=0.1, baked=True, error="boom",
                             bake_seconds=0.09, buildkit_seconds=0.05)
        if self.fail:
            raise BuildFailed(report)
        return report


@pytest.fixture
def watcher(repo: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Watcher, StubBuild]:
    stub = StubBuild()
    monkeypatch.setattr(watch, "build", stub)
    project = open_project(repo, ["demo"], {"ca_bundle": "none"}, use_stat_cache=False, resolver=fake_digests)
    output = WatchOutput(cycle=lambda c: None, echo=lambda s: None, warn=lambda s: None)
    return Watcher(project, WatchOptions(), output, FakeObserver(), FakeEngine()), stub


def test_cycle_builds_only_for_relevant_changes(repo: Path, watcher: tuple[Watcher, StubBuild]) -> None:
    w, stub = watcher
    assert w.cycle([]).result == "ok" and stub.calls == 1  # the initial build
    assert w.cycle([repo / "README.md"]).detail == "no step uses it"
    assert w.cycle([repo / "flavors/demo/other/Dockerfile"]).detail == "not needed by goals"
    assert stub.calls == 1
    cycle = w.cycle([repo / "src/main.txt"])
    assert (cycle.result, cycle.steps, cycle.tags) == ("ok", ("app",), {"app": "r/demo:app-x"})
    # The JSON line sets the cycle against its build and BuildKit's own time in it.
    assert {k: cycle.as_json()[k] for k in ("build_seconds", "bake_seconds", "buildkit_seconds")} == {
        "build_seconds": 0.1, "bake_seconds": 0.09, "buildkit_seconds": 0.05}
    ignored = w.cycle([repo / "README.md"]).as_json()
    assert ignored["build_seconds"] is None and ignored["bake_seconds"] is None and ignored["buildkit_seconds"] is None
    stub.fail = True
    failed = w.cycle([repo / "src/main.txt"])
    assert (failed.result, failed.detail) == ("failed", "boom")
    assert failed.buildkit_seconds == 0.05  # a failed build still says how long BuildKit worked
    stub.fail = False
    assert w.cycle([repo / "src/main.txt"]).result == "ok"  # fixing recovers


def test_broken_flavor_toml_keeps_watching_and_recovers(repo: Path, watcher: tuple[Watcher, StubBuild]) -> None:
    w, stub = watcher
    toml = repo / "flavors/demo/flavor.toml"
    write_files(repo, {"flavors/demo/flavor.toml": "[flavor\n"})
    broken = w.cycle([toml])
    assert broken.result == "error" and "flavor.toml" in broken.detail and stub.calls == 0
    # while broken, any change retries the load instead of building the stale flavor
    assert w.cycle([repo / "src/main.txt"]).result == "error"
    write_files(repo, {"flavors/demo/flavor.toml": FLAVOR_TOML.replace('goals = ["app"]', 'goals = ["other"]')})
    fixed = w.cycle([toml])
    assert fixed.result == "ok" and stub.calls == 1
    assert w.flavor.goals == ("other",)


def test_restart_cancels_the_running_build_only_for_relevant_changes(
        repo: Path, watcher: tuple[Watcher, StubBuild]) -> None:
    w, _ = watcher

    class Event:
        event_type, is_directory, src_path = "modified", False, ""

    def changed(path: Path) -> None:
        event = Event()
        event.src_path = str(path)
        w.dispatch(event)

    running = CancelToken()
    w._running = running  # what _build sets while a --restart build runs
    changed(repo / "README.md")
    changed(repo / "src/.main.txt.swp")  # filtered before it reaches the batcher
    assert not running.cancelled
    changed(repo / "src/main.txt")
    assert running.reason == "watch-restart"
    assert w.next_batch() == [repo / "README.md", repo / "src/main.txt"]


def test_a_cancelled_build_restarts_only_when_watch_cancelled_it(
        repo: Path, watcher: tuple[Watcher, StubBuild], monkeypatch: pytest.MonkeyPatch) -> None:
    w, _ = watcher
    reason: list[Any] = ["watch-restart"]

    def cancelled_build(project: Any, options: Any, io: Any) -> BuildReport:
        raise Cancelled(reason[0])

    monkeypatch.setattr(watch, "build", cancelled_build)
    assert w.cycle([repo / "src/main.txt"]).result == "restarted"
    reason[0] = "user-interrupt"  # Ctrl-C, also while a restart was stopping bake: watch ends
    with pytest.raises(Cancelled) as info:
        w.cycle([repo / "src/main.txt"])
    assert info.value.exit_code == 130


def test_cancel_token_an_interrupt_wins_over_a_restart() -> None:
    token = CancelToken()
    token.cancel("watch-restart")
    token.cancel("user-interrupt")
    token.cancel("watch-restart")
    assert (token.cancelled, token.reason) == (True, "user-interrupt")
    term = CancelToken()
    term.cancel("signal", 15)
    assert Cancelled(term.reason or "signal", term.signum).exit_code == 143


def test_exec_runs_through_the_engine_with_the_goal_tags(repo: Path) -> None:
    engine = FakeEngine()
    project = open_project(repo, ["demo"], {"ca_bundle": "none"}, use_stat_cache=False, resolver=fake_digests)
    output = WatchOutput(cycle=lambda c: None, echo=lambda s: None, warn=lambda s: None)
    w = Watcher(project, WatchOptions(exec_cmd="echo $SLCC_TAG"), output, FakeObserver(), engine)
    w._report(Cycle(1, (), "ok", ("app",), 0.1, {"app": "r/demo:app-1"}))
    w._report(Cycle(2, (), "failed", ("app",), 0.1))
    assert [(c, e["SLCC_TAG"], e["SLCC_TAGS"]) for c, e in engine.shell] == [("echo $SLCC_TAG", "r/demo:app-1",
                                                                              "r/demo:app-1")]


def test_batcher_drops_a_temp_file_created_and_renamed_within_the_batch() -> None:
    batcher = ChangeBatcher()
    batcher.feed(Path(".main.txt.tmp"), 1.0, "created")
    batcher.feed(Path(".main.txt.tmp"), 1.0, "gone")  # renamed over main.txt
    batcher.feed(Path("main.txt"), 1.0)
    batcher.feed(Path("old.txt"), 1.0, "gone")  # existed before the batch: a real change
    batcher.feed(Path("old.txt"), 1.0, "created")
    batcher.feed(Path("old.txt"), 1.0, "gone")
    assert batcher.drain() == [Path("main.txt"), Path("old.txt")]
