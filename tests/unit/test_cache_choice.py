"""Which cache backend a bake gets: what the user chose, else the fastest for where it builds.

Without a registry, on this machine's daemon, BuildKit's own cache already holds every layer:
the default exports none. A backend named on the command line, in $SLCC_CACHE or slcc.toml is
used as given; a registry that does not answer falls back to the local cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.commands.build import BuildIO, BuildOptions, build, build_settings
from slcc.emitting import emit
from slcc.engine.protocol import BuilderInfo
from slcc.loading.config import load_settings
from slcc.loading.project import Project, open_project
from tests.fakes import FakeEngine
from tests.helpers import fake_digests, make_repo

REMOTE = BuilderInfo("ci", "kubernetes", ("kubernetes:///ci",), ("linux/amd64",))


def _project(repo: Path, **overrides: str) -> Project:
    return open_project(repo, ["demo"], {"ca_bundle": "none", **overrides}, resolver=fake_digests)


def _bake_cache(project: Project) -> str:
    """SLCC_CACHE of the one bake a build of ``project`` on a fake engine runs."""
    names = emit.target_names(project.flavors)
    repository = project.settings.repository
    by_target = {names[("demo", s)]: h.tag(repository) for s, h in project.hash_all()["demo"].items()}
    engine = FakeEngine(tags_by_target=by_target)
    build(project, BuildOptions(), BuildIO(lambda _: None, lambda _: None, engine))
    assert len(engine.bakes) == 1
    return engine.bakes[0].variables["SLCC_CACHE"]


@pytest.mark.parametrize(("environ", "chosen"), [({}, False), ({"SLCC_CACHE": "local"}, True)])
def test_settings_say_whether_the_backend_was_chosen(tmp_path: Path, environ: dict[str, str], chosen: bool) -> None:
    settings = load_settings(make_repo(tmp_path / "repo"), environ=environ)
    assert (settings.cache_backend, settings.cache_chosen) == ("local", chosen)


def test_slcc_toml_chooses_the_backend(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"slcc.toml": '[cache]\nbackend = "local"\n'})
    assert load_settings(repo, environ={}).cache_chosen


def test_a_default_build_on_the_local_daemon_exports_no_cache(tmp_path: Path) -> None:
    assert _bake_cache(_project(make_repo(tmp_path / "repo"))) == "none"


def test_a_chosen_local_cache_is_exported(tmp_path: Path) -> None:
    assert _bake_cache(_project(make_repo(tmp_path / "repo"), cache="local")) == "local"


def test_a_registry_repository_keeps_the_registry_cache(tmp_path: Path) -> None:
    settings = load_settings(make_repo(tmp_path / "repo"), {"repository": "127.0.0.1:1/slcc"}, environ={})
    assert build_settings(settings, True, None).cache_backend == "registry"
    assert build_settings(settings, True, REMOTE).cache_backend == "registry"
    assert build_settings(settings, False, None).cache_backend == "local"  # registry down: local, as before


def test_the_default_is_kept_when_the_daemon_is_not_this_machines(tmp_path: Path) -> None:
    settings = load_settings(make_repo(tmp_path / "repo"), environ={})
    assert build_settings(settings, True, None).cache_backend == "none"
    assert build_settings(settings, True, REMOTE).cache_backend == "local"
