"""`build()` against a fake engine: registry outage, --push of fresh local images, failed and
interrupted bakes, and what every run leaves in its run directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from slcc.commands.build import BuildFailed, BuildIO, BuildOptions, BuildReport, build
from slcc.emitting import emit
from slcc.engine.protocol import BakeOutcome, BakeRequest, Cancelled, CancelToken, RegistryUnauthorized
from slcc.loading.project import Project, open_project
from slcc.vocabulary import StepKey
from tests.fakes import FakeEngine, parse_log
from tests.helpers import fake_digests, make_repo

REGISTRY = "127.0.0.1:1/slcc"
BASE_FAILS = """\
#7 [demo_base 2/3] COPY hello.txt /hello.txt
#7 DONE 0.1s
#8 [demo_base 3/3] RUN cat /hello.txt > /base.txt
#8 0.105 cat: can't open '/hello.txt': No such file: a "quoted" thing
#8 ERROR: process "/bin/sh -c cat /hello.txt > /base.txt" did not complete successfully: exit code: 1
------
ERROR: failed to solve: process "/bin/sh -c cat /hello.txt > /base.txt" did not complete successfully: exit code: 1
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    repo = make_repo(tmp_path / "repo")
    return open_project(repo, ["demo"], {"ca_bundle": "none", "repository": REGISTRY}, resolver=fake_digests)


def tags(project: Project) -> dict[str, str]:
    """Step name -> hash tag."""
    return {step: h.tag(REGISTRY) for step, h in project.hash_all()["demo"].items()}


def fake(project: Project, **kwargs: Any) -> FakeEngine:
    names = emit.target_names(project.flavors)
    by_target = {names[StepKey("demo", step)]: tag for step, tag in tags(project).items()}
    return FakeEngine(tags_by_target=by_target, **kwargs)


def run(project: Project, engine: FakeEngine, options: BuildOptions | None = None,
        cancel: CancelToken | None = None) -> tuple[BuildReport, list[str]]:
    warnings: list[str] = []
    io = BuildIO(warnings.append, lambda line: None, engine, cancel)
    return build(project, options or BuildOptions(), io), warnings


def statuses(report: BuildReport) -> dict[str, str]:
    return {s.step: s.status for s in report.steps}


def saved_report(report: BuildReport) -> dict[str, Any]:
    assert report.run_dir is not None
    data: dict[str, Any] = json.loads((report.run_dir / "report.json").read_text(encoding="utf-8"))
    return data


def test_cold_build_then_no_op_starts_no_bake(project: Project) -> None:
    engine = fake(project)
    report, _ = run(project, engine)
    assert statuses(report) == {"base": "built", "app": "built"} and len(engine.bakes) == 1
    assert engine.bakes[0].targets == ("demo_base", "demo_app")
    again, _ = run(project, engine)
    assert statuses(again) == {"app": "fresh-local"} and not again.baked and len(engine.bakes) == 1


def test_registry_outage_warns_and_builds_with_the_local_cache(project: Project) -> None:
    engine = fake(project, registry_down=True)
    report, warnings = run(project, engine)
    assert report.ok and statuses(report) == {"base": "built", "app": "built"}
    assert len(warnings) == 1 and "unreachable" in warnings[0] and list(report.warnings) == warnings
    request = engine.bakes[0]
    # The bake file's cache functions pick the backend from SLCC_CACHE: local, in file and environment.
    assert 'variable "SLCC_CACHE" {\n  default = "local"\n}' in request.file.read_text(encoding="utf-8")
    assert request.variables["SLCC_CACHE"] == "local"


def test_push_with_the_registry_down_fails_and_keeps_the_images(project: Project) -> None:
    engine = fake(project, registry_down=True)
    with pytest.raises(BuildFailed) as info:
        run(project, engine, BuildOptions(push=True))
    report = info.value.report
    assert statuses(report) == {"base": "built", "app": "built"} and set(tags(project).values()) <= engine.local
    assert engine.bakes[0].push is False and engine.pushed == []
    assert report.error is not None and report.error.startswith("nothing pushed: registry 127.0.0.1:1 is unreachable")
    assert saved_report(report)["ok"] is False


def test_push_refused_by_the_registry_fails_before_building(project: Project) -> None:
    engine = fake(project, registry_refuses=True)
    with pytest.raises(RegistryUnauthorized, match="needs a login"):
        run(project, engine, BuildOptions(push=True))
    assert engine.bakes == []
    report, warnings = run(project, engine)  # without push: a warning, a local build
    assert report.ok and "needs a login" in warnings[0] and len(engine.bakes) == 1


def test_push_sends_every_step_the_registry_lacks_not_only_the_goal(project: Project) -> None:
    all_tags = tags(project)
    engine = fake(project, local=set(all_tags.values()))  # built while the registry was down
    report, _ = run(project, engine, BuildOptions(push=True))
    assert statuses(report) == {"app": "fresh-local"} and not report.baked
    assert sorted(engine.pushed) == sorted(all_tags.values()) and list(report.pushed) == engine.pushed


def test_push_sends_fresh_local_images_the_registry_lacks(project: Project) -> None:
    base = tags(project)["base"]
    engine = fake(project, local={base})
    report, _ = run(project, engine, BuildOptions(push=True))
    assert statuses(report) == {"base": "fresh-local", "app": "built"}
    assert engine.pushed == [base]  # the stale app is pushed by bake itself
    assert engine.bakes[0].push is True and engine.bakes[0].targets == ("demo_app",)


def test_push_skips_what_the_registry_already_has(project: Project) -> None:
    base = tags(project)["base"]
    engine = fake(project, local={base}, registry={base})
    run(project, engine, BuildOptions(push=True))
    assert engine.pushed == []


def test_load_pulls_a_goal_fresh_only_in_the_registry(project: Project) -> None:
    app = tags(project)["app"]
    engine = fake(project, registry={app})
    report, _ = run(project, engine, BuildOptions(load=True))
    assert statuses(report) == {"app": "fresh-registry"} and engine.pulled == [app] and not engine.bakes


def failing_base(request: BakeRequest, engine: FakeEngine, cancel: CancelToken | None) -> BakeOutcome:
    return BakeOutcome(1, 0.5, parse_log(BASE_FAILS, request.targets))


def test_failed_bake_is_recorded_with_a_structured_failure(project: Project) -> None:
    engine = fake(project, bake_script=failing_base)
    with pytest.raises(BuildFailed) as info:
        run(project, engine)
    report = info.value.report
    assert statuses(report) == {"base": "failed", "app": "not-built"}
    failure = report.steps[0].failure
    assert failure is not None and failure.instruction == "RUN cat /hello.txt > /base.txt"
    assert failure.error.endswith("exit code: 1")
    assert report.error is not None and report.error.startswith("step demo/base failed at `RUN cat")
    data = saved_report(report)
    assert data["ok"] is False and data["steps"][0]["failure"] == failure.as_json()
    assert not list((project.settings.state_dir / "manifests").rglob("*.json"))


def test_failed_bake_keeps_the_steps_that_were_built(project: Project) -> None:
    base = tags(project)["base"]

    def app_fails(request: BakeRequest, engine: FakeEngine, cancel: CancelToken | None) -> BakeOutcome:
        engine.local.add(base)
        log = "#9 [demo_app 3/3] RUN cat /src/main.txt >> /base.txt\n#9 ERROR: boom\nERROR: failed to solve: boom\n"
        return BakeOutcome(1, 0.5, parse_log(log, request.targets))

    with pytest.raises(BuildFailed) as info:
        run(project, fake(project, bake_script=app_fails))
    assert statuses(info.value.report) == {"base": "built", "app": "failed"}


def test_a_report_is_written_even_when_the_daemon_fails_after_the_bake(project: Project) -> None:
    def fails_then_daemon_gone(request: BakeRequest, engine: FakeEngine, cancel: CancelToken | None) -> BakeOutcome:
        engine.local_down = True
        return failing_base(request, engine, cancel)

    with pytest.raises(BuildFailed) as info:
        run(project, fake(project, bake_script=fails_then_daemon_gone))
    report = info.value.report
    assert saved_report(report)["ok"] is False
    assert any("cannot tell which images" in w for w in report.warnings)


def test_an_interrupted_bake_says_so_and_raises_cancelled_after_the_report(project: Project) -> None:
    def interrupted(request: BakeRequest, engine: FakeEngine, cancel: CancelToken | None) -> BakeOutcome:
        assert cancel is not None
        cancel.cancel("signal", 15)
        return BakeOutcome(130, 0.5, parse_log("#1 [demo_base 1/3] FROM x\n", request.targets), "signal", 15)

    token = CancelToken()
    engine = fake(project, bake_script=interrupted)
    with pytest.raises(Cancelled) as info:
        run(project, engine, cancel=token)
    assert (info.value.reason, info.value.exit_code) == ("signal", 143)
    runs = sorted((project.settings.state_dir / "runs").iterdir())
    data = json.loads((runs[-1] / "report.json").read_text(encoding="utf-8"))
    assert data["ok"] is False and data["error"].startswith("interrupted (signal)")
    assert {s["status"] for s in data["steps"]} == {"not-built"}


def test_build_log_records_every_command_of_the_run(project: Project) -> None:
    base = tags(project)["base"]
    engine = fake(project, local={base})
    report, _ = run(project, engine, BuildOptions(push=True))
    assert report.log is not None
    log = report.log.read_text(encoding="utf-8").splitlines()
    assert log[0].startswith("#1 ")  # bake's own output first
    assert f"[slcc] ran `docker push --quiet {base}`: exit 0 (0.00 s)" in log
    assert any(line.startswith("[slcc] ran `docker buildx bake -f") for line in log)


BOTH_BUILT = """\
#1 [internal] load local bake definitions
#1 DONE 0.0s
#7 [demo_base 3/3] RUN cat /hello.txt > /base.txt
#7 DONE 1.3s
#8 [demo_app 2/3] COPY --from=src . /src
#8 DONE 0.2s
#9 [demo_app 3/3] RUN cat /src/main.txt >> /base.txt
#9 DONE 0.4s
#10 [demo_app] exporting to image
#10 DONE 0.1s
"""


def test_the_report_gives_buildkit_time_per_step_from_the_vertex_durations(project: Project) -> None:
    engine = fake(project, bake_lines=tuple(BOTH_BUILT.splitlines()))
    report, _ = run(project, engine)
    by_step = {s.step: s.buildkit_seconds for s in report.steps}
    assert by_step == {"base": 1.3, "app": 0.7}  # each vertex counted for the step that owns it
    assert report.bake_seconds == 0.1  # the fake bake's own seconds
    # The span starts no later than the longest vertex's end minus its duration.
    assert report.buildkit_seconds is not None and report.buildkit_seconds >= 1.3
    data = saved_report(report)
    assert data["buildkit_seconds"] == report.buildkit_seconds and data["bake_seconds"] == 0.1
    assert [s["buildkit_seconds"] for s in data["steps"]] == [1.3, 0.7]


def test_a_no_op_reports_no_bake_and_no_buildkit_time(project: Project) -> None:
    engine = fake(project)
    run(project, engine)
    report, _ = run(project, engine)
    assert report.baked is False
    assert report.as_json()["buildkit_seconds"] is None and report.as_json()["bake_seconds"] is None
    assert all("buildkit_seconds" not in s.as_json() for s in report.steps)
