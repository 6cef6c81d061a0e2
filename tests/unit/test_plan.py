"""The planner: shortcut builds, forced rebuilds, fresh in the registry; and the shared vocabulary."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import click
import pytest

from slcc import cli
from slcc.loading.project import Project, open_project
from slcc.planning.plan import Plan, forced_steps, make_plan
from slcc.vocabulary import CacheBackend, Progress, StepKey, choices
from tests.helpers import fake_digests, make_repo

THREE = {
    "flavors/demo/flavor.toml": '[flavor]\ngoals = ["app"]\n[args]\nBASE = "b"\n[steps.base]\n'
                                '[steps.mid]\ndepends = ["base"]\n[steps.app]\ndepends = ["mid"]\n'
                                '[steps.other]\ndepends = ["base"]\n',
    "flavors/demo/base/Dockerfile": "ARG BASE\nFROM ${BASE}\n",
    "flavors/demo/mid/Dockerfile": "FROM base\nRUN echo mid\n",
    "flavors/demo/app/Dockerfile": "FROM mid\nRUN echo app\n",
    "flavors/demo/other/Dockerfile": "FROM base\nRUN echo other\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    repo = make_repo(tmp_path / "repo", THREE)
    return open_project(repo, ["demo"], {"ca_bundle": "none"}, resolver=fake_digests)


def tag(project: Project, step: str) -> str:
    return project.hash_all()["demo"][step].tag("r")


def plan(project: Project, local: Collection[str] = (), registry: Collection[str] = (),
         goals: tuple[str, ...] = ("app",), forced: set[str] | None = None) -> Plan:
    return make_plan(project.flavors, project.hash_all(), {"demo": goals}, "r", local, registry,
                     {"demo": forced or set()})


def statuses(p: Plan) -> dict[str, str]:
    return {s.step: s.status for s in p.steps}


def test_cold_plan_needs_the_goal_and_everything_below_it_only(project: Project) -> None:
    assert statuses(plan(project)) == {"base": "stale", "mid": "stale", "app": "stale"}  # not "other"


def test_a_fresh_goal_needs_nothing_below_it_even_when_that_was_pruned(project: Project) -> None:
    assert statuses(plan(project, local={tag(project, "app")})) == {"app": "fresh-local"}


def test_shortcut_a_fresh_middle_step_cuts_the_walk(project: Project) -> None:
    p = plan(project, registry={tag(project, "mid")})
    assert statuses(p) == {"mid": "fresh-registry", "app": "stale"}
    assert p.stale == {StepKey("demo", "app")}


def test_local_wins_over_registry(project: Project) -> None:
    app = tag(project, "app")
    assert statuses(plan(project, local={app}, registry={app})) == {"app": "fresh-local"}


def test_forced_steps_are_stale_and_keep_the_walk_going(project: Project) -> None:
    flavor = project.flavors[0]
    everything = {tag(project, s) for s in ("base", "mid", "app")}
    assert forced_steps(flavor, ["app"], True, []) == {"base", "mid", "app"}
    assert forced_steps(flavor, ["app"], False, ["mid"]) == {"mid", "app"}
    assert forced_steps(flavor, ["app"], False, ["other"]) == set()  # not needed by the goal
    assert forced_steps(flavor, ["app"], False, []) == set()
    p = plan(project, local=everything, forced={"mid", "app"})
    assert statuses(p) == {"base": "fresh-local", "mid": "stale", "app": "stale"}
    assert [s.forced for s in p.steps] == [False, True, True]


def test_plan_is_in_dependency_order_and_indexed_by_key(project: Project) -> None:
    p = plan(project, goals=("app", "other"))
    assert [s.step for s in p.steps] == ["base", "mid", "app", "other"]
    assert p.get(StepKey("demo", "mid")).step == "mid"
    assert p.get(("demo", "other")) is p.steps[3]  # type: ignore[arg-type]  # plain tuples still work
    with pytest.raises(KeyError):
        p.get(StepKey("demo", "nope"))


def option_choices(command: click.Command, name: str) -> list[str]:
    option = next(p for p in command.params if p.name == name)
    assert isinstance(option.type, click.Choice)
    return list(option.type.choices)


def cli_command(name: str) -> click.Command:
    command = cli.main.get_command(click.Context(cli.main), name)
    assert command is not None
    return command


def test_cli_choices_come_from_the_vocabulary() -> None:
    for command in ("build", "export", "test", "watch"):
        assert option_choices(cli_command(command), "progress") == choices(Progress) == ["auto", "plain", "json", "quiet"]
    assert option_choices(cli_command("build"), "cache") == choices(CacheBackend)
