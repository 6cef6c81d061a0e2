"""clean/du without an engine: retention rules, units, settings, and `clean()` on the fake engine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from slcc.commands.build import BuildIO
from slcc.commands.clean import CleanIO, CleanOptions, clean
from slcc.commands.push import PushOptions, push
from slcc.emitting import emit
from slcc.engine.protocol import SlccImage
from slcc.errors import InputError
from slcc.loading.config import load_settings
from slcc.loading.project import Project, open_project
from slcc.loading.units import human_size, parse_duration, parse_size
from slcc.planning.retention import Item, Policy, decide, freed
from tests.fakes import FakeEngine
from tests.helpers import fake_digests, make_repo, run_slcc, write_files

REPOSITORY = "slcc-unit"


def item(name: str, created: float, current: bool = False, group: str = "demo/app", kind: str = "image",
         size: int = 10) -> Item:
    return Item(kind, group, name, created, size, current)  # type: ignore[arg-type]


def removed(items: list[Item], policy: Policy) -> set[str]:
    return {d.item.name for d in decide(items, policy) if d.remove}


def test_keep_counts_the_newest_per_group_and_always_keeps_the_current() -> None:
    items = [item(f"app{n}", n) for n in range(1, 6)] + [item("base1", 1, group="demo/base"),
                                                        item("base2", 2, current=True, group="demo/base")]
    assert removed(items, Policy(keep=1)) == {"app1", "app2", "app3", "app4", "base1"}
    assert removed(items, Policy(keep=2)) == {"app1", "app2", "app3"}
    # A reverted edit makes an older image current again: it counts first among the N.
    reverted = [item("app1", 1, current=True), item("app2", 2), item("app3", 3)]
    assert removed(reverted, Policy(keep=1)) == {"app2", "app3"}
    assert removed(reverted, Policy(keep=2)) == {"app2"}
    # Same second (creation times have one-second resolution): the current one wins the tie.
    assert removed([item("a", 5), item("b", 5, current=True)], Policy(keep=1)) == {"a"}
    assert removed(reverted, Policy(keep=0, keep_since=2.5)) == {"app2"}
    assert removed(reverted, Policy(keep=5, remove_all=True)) == {"app1", "app2", "app3"}


def test_cache_budget_drops_the_least_recently_written_non_current_first() -> None:
    caches = [item("old", 1, kind="cache", size=50), item("cur", 0, current=True, kind="cache", size=50),
              item("new", 3, kind="cache", size=50)]
    assert removed(caches, Policy(keep=0, cache_budget=100)) == {"old"}
    assert removed(caches, Policy(keep=0, cache_budget=40)) == {"old", "new", "cur"}
    assert removed(caches, Policy(keep=0, cache_budget=None)) == set()
    assert freed(decide(caches, Policy(keep=0, cache_budget=100))) == 50


def test_units() -> None:
    assert parse_duration("90m") == 5400 and parse_duration("7d") == 7 * 86400 and parse_duration("1.5h") == 5400
    assert parse_size("10GB") == 10**10 and parse_size("500MiB") == 500 * 2**20 and parse_size("0") == 0
    assert human_size(1_234_567) == "1.2 MB" and human_size(12) == "12 B"
    for bad in ("", "7", "7y", "-1d"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError):
        parse_size("lots")


def test_clean_settings_from_slcc_toml(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"slcc.toml": "[clean]\nkeep = 1\ncache_budget = \"1GiB\"\n"})
    settings = load_settings(repo, environ={})
    assert (settings.clean_keep, settings.cache_budget) == (1, 2**30)
    write_files(repo, {"slcc.toml": "[clean]\nkeep = \"many\"\n"})
    with pytest.raises(InputError, match="keep must be a whole number"):
        load_settings(repo, environ={})


@pytest.mark.parametrize("args", [["--keep-since", "soon"], ["--cache-budget", "huge"], ["--keep", "-1"]])
def test_bad_clean_options_are_one_line_exit_2(tmp_path: Path, args: list[str]) -> None:
    proc = run_slcc(make_repo(tmp_path / "repo"), "clean", *args)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return open_project(make_repo(tmp_path / "repo"), ["demo"], {"ca_bundle": "none", "repository": REPOSITORY}, resolver=fake_digests)


def test_clean_on_the_fake_engine_keeps_current_skips_in_use_and_dry_run_removes_nothing(project: Project) -> None:
    hashes = project.hash_all()["demo"]
    current = {s: h.tag(REPOSITORY) for s, h in hashes.items()}
    now = time.time()
    old = [SlccImage(f"{REPOSITORY}/demo:app-{n:032x}", "demo", "app", f"{n:032x}" + "0" * 32, now - 100 * n, 5)
           for n in (1, 2, 3)]
    images = old + [SlccImage(t, "demo", s, hashes[s].digest, now, 5) for s, t in current.items()]
    engine = FakeEngine(local={i.tag for i in images}, images=images, in_use={old[0].tag})
    io = CleanIO(lambda line: None, engine)

    dry = clean(project, CleanOptions(keep=1, dry_run=True), io)
    assert {d.item.name for d in dry.decisions if d.remove} == {i.tag for i in old} and engine.removed == []

    report = clean(project, CleanOptions(keep=1), io)
    assert set(engine.removed) == {old[1].tag, old[2].tag}
    assert report.results[old[0].tag] == "in-use" and set(current.values()) <= engine.local


def test_clean_state_files_old_exports_runs_caches_and_a_leftover_trash(project: Project) -> None:
    state = project.settings.state_dir
    hashes = project.hash_all()["demo"]
    current_archive = state / "export" / f"demo-app-{hashes['app'].short}.tar.gz"
    old_archive = state / "export" / f"demo-app-{'a' * 32}.tar.gz"
    for archive, age in ((current_archive, 0), (old_archive, 50)):
        write_files(state, {f"export/{archive.name}": "x" * 100, f"export/{archive.name}.sha512sum": "sum\n"})
        os.utime(archive, (time.time() - age, time.time() - age))
    for n in range(4):
        run = state / "runs" / f"2026120{n}-000000-1"
        write_files(run, {"build.log": "log\n"})
        os.utime(run, (1000 + n, 1000 + n))
    write_files(state, {"cache/demo/app/index.json": "x" * 600, "cache/gone/step/index.json": "x" * 600,
                        ".trash/half-removed-run/build.log": "left by an interrupted clean\n"})
    engine = FakeEngine()
    io = CleanIO(lambda line: None, engine)

    report = clean(project, CleanOptions(keep=1, cache_budget=1000), io)
    removed = {Path(d.item.name).name for d in report.removed}
    assert removed == {old_archive.name, "20261200-000000-1", "20261201-000000-1", "20261202-000000-1", "step"}
    assert current_archive.is_file() and not old_archive.exists() and not Path(f"{old_archive}.sha512sum").exists()
    assert sorted(p.name for p in (state / "runs").iterdir()) == ["20261203-000000-1"]
    assert (state / "cache/demo/app/index.json").is_file() and not (state / "cache/gone/step").exists()
    assert not any((state / ".trash").iterdir())  # emptied, the interrupted clean's leftover too


def test_push_builds_what_exists_nowhere_then_pushes_every_step(project: Project) -> None:
    registry_project = open_project(project.settings.repo_root, ["demo"],
                                     {"ca_bundle": "none", "repository": "127.0.0.1:1/slcc"}, resolver=fake_digests)
    hashes = registry_project.hash_all()["demo"]
    names = emit.target_names(registry_project.flavors)
    tags = {s: h.tag("127.0.0.1:1/slcc") for s, h in hashes.items()}
    engine = FakeEngine(tags_by_target={names[("demo", s)]: t for s, t in tags.items()})
    results = push(registry_project, PushOptions(), BuildIO(lambda m: None, lambda m: None, engine))
    assert len(engine.bakes) == 1 and {r.step: r.status for r in results} == {"base": "pushed", "app": "pushed"}
    assert set(engine.pushed) == set(tags.values())
    again = push(registry_project, PushOptions(), BuildIO(lambda m: None, lambda m: None, engine))
    assert {r.status for r in again} == {"present"} and len(engine.bakes) == 1


def test_push_needs_a_registry(project: Project) -> None:
    with pytest.raises(InputError, match="names no registry"):
        push(project, PushOptions(), BuildIO(lambda m: None, lambda m: None, FakeEngine()))


def _checkout(state: Path, commit: str, age: float) -> Path:
    write_files(state, {f"git/{commit}/main.txt": f"{commit}\n", f"git/{commit}.tree": "f" * 40 + "\n"})
    then = time.time() - age
    os.utime(state / "git" / commit, (then, then))
    return state / "git" / commit


def test_clean_git_checkouts_by_keep_rules_never_what_slcc_lock_pins(project: Project) -> None:
    from slcc.commands.du import disk_usage
    from slcc.engine.git import bare_repository
    from slcc.loading.lockfile import Lock, LockedSource, render
    from slcc.output.lifecycle import du_lines

    state = project.settings.state_dir
    pinned, old, older, newest = (_checkout(state, c * 40, age) for c, age in (("a", 900), ("b", 300), ("c", 600),
                                                                               ("d", 100)))
    url = "https://example.invalid/src.git"
    fetched = bare_repository(url, state / "git")  # the fetch cache of a source the lock names
    for repo, age in ((fetched, 900), (state / "git/repos/0123.git", 300), (state / "git/repos/4567.git", 600)):
        write_files(repo, {"HEAD": "ref: refs/heads/main\n"})
        os.utime(repo, (time.time() - age,) * 2)
    write_files(state, {"git/.dddd.tmp/x": "a checkout underway\n"})
    lock = Lock({}, {("demo", "src"): LockedSource(url, "tag:v1", "a" * 40, "f" * 40)})
    project.settings.lock_path.write_text(render(lock))
    io = CleanIO(lambda line: None, FakeEngine())

    usage = disk_usage(project, FakeEngine(), None)
    assert (usage.checkouts.count, usage.as_json()["git_checkouts"]) == (7, 7)  # four checkouts, three fetch caches
    assert any(line.startswith("git checkouts (7)") for line in du_lines(usage))
    assert disk_usage(project, FakeEngine(), ["demo"]).checkouts.count == 0

    named = clean(project, CleanOptions(flavors=["demo"], keep=0), io)  # checkouts are shared: not a flavor's
    assert not [d for d in named.decisions if d.item.kind == "checkout"]

    dry = clean(project, CleanOptions(keep=2, dry_run=True), io)
    checkouts = {Path(d.item.name).name: d for d in dry.decisions if d.item.kind == "checkout"}
    assert {n for n, d in checkouts.items() if d.remove} == {older.name, old.name, "4567.git"}
    assert checkouts[pinned.name].reason == "the current tree needs it" and older.is_dir()  # a dry run

    report = clean(project, CleanOptions(keep=2), io)
    assert {Path(d.item.name).name for d in report.removed if d.item.kind == "checkout"} == {
        older.name, old.name, "4567.git"}
    assert sorted(p.name for p in (state / "git").iterdir()) == sorted(
        [".dddd.tmp", pinned.name, f"{pinned.name}.tree", newest.name, f"{newest.name}.tree", "repos"])
    assert sorted(p.name for p in (state / "git/repos").iterdir()) == sorted([fetched.name, "0123.git"])


def test_stale_materialized_contexts_go_by_keep_rules_the_current_stays(project: Project) -> None:
    state, hashes = project.settings.state_dir, project.hash_all()["demo"]
    for n, age in ((1, 300), (2, 200), (3, 100)):
        write_files(state, {f"contexts/demo/base-{n:032x}/hello.txt": f"v{n}\n"})
        os.utime(state / f"contexts/demo/base-{n:032x}", (time.time() - age,) * 2)
    current = write_files(state, {f"contexts/demo/base-{hashes['base'].short}/hello.txt": "now\n"})
    report = clean(project, CleanOptions(keep=2), CleanIO(lambda line: None, FakeEngine()))
    assert sorted(p.name for p in (state / "contexts/demo").iterdir()) == [f"base-{3:032x}", f"base-{hashes['base'].short}"]
    assert current.is_dir() and {d.reason for d in report.removed} == {"older than the last 2 of demo/base"}
