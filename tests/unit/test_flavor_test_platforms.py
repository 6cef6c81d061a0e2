"""`slcc test` on a multi-platform flavor against a fake engine: which platforms the tests run on."""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.commands.build import BuildIO
from slcc.commands.flavor_test import run_tests
from slcc.engine.protocol import BuilderInfo
from slcc.errors import EngineError
from slcc.loading.project import Project, open_project
from tests.fakes import FakeEngine
from tests.helpers import DEMO_FILES, fake_digests, make_repo

TOML = DEMO_FILES["flavors/demo/flavor.toml"].replace(
    '[flavor]\n', '[flavor]\nplatforms = ["linux/amd64", "linux/arm64"]\n') + '\n[steps.test]\ndepends = ["app"]\n'


@pytest.fixture
def project(tmp_path: Path) -> Project:
    repo = make_repo(tmp_path / "repo", {"flavors/demo/flavor.toml": TOML,
                                         "flavors/demo/test/Dockerfile": "FROM app\nRUN true\n"})
    return open_project(repo, ["demo"], {"ca_bundle": "none"}, resolver=fake_digests)


def io(engine: FakeEngine) -> BuildIO:
    return BuildIO(warn=lambda _m: None, echo=lambda _m: None, engine=engine)


def test_tests_run_on_every_platform_the_builder_runs(project: Project) -> None:
    engine = FakeEngine(builder_info=BuilderInfo("default", "docker", ("default",),
                                                 ("linux/amd64", "linux/amd64/v2", "linux/arm64")))
    result = run_tests(project, None, "quiet", io(engine))
    assert result.passed and result.platforms == ("linux/amd64", "linux/arm64") and result.skipped == ()
    assert 'platforms = [\n    "linux/amd64",\n    "linux/arm64",\n  ]' in engine.bakes[0].file.read_text("utf-8")


def test_platforms_the_builder_cannot_run_are_skipped_and_named(project: Project) -> None:
    engine = FakeEngine()  # runs linux/amd64 only: no emulation
    result = run_tests(project, None, "quiet", io(engine))
    assert result.platforms == ("linux/amd64",) and result.skipped == ("linux/arm64",)
    assert "(not run on linux/arm64: the builder cannot run it)" in result.summary()
    bake = engine.bakes[0].file.read_text("utf-8")
    assert 'platforms = ["linux/amd64"]' in bake and "linux/arm64" not in bake
    # The subset has hashes of its own: its images never carry the two-platform tags.
    full = project.hash_all()["demo"]["test"].tag(project.settings.repository)
    assert result.tag != full


def test_a_builder_that_runs_none_of_the_platforms_is_an_engine_error(project: Project) -> None:
    engine = FakeEngine(builder_info=BuilderInfo("default", "docker", ("default",), ("linux/s390x",)))
    with pytest.raises(EngineError, match="can run none of linux/amd64, linux/arm64"):
        run_tests(project, None, "quiet", io(engine))
