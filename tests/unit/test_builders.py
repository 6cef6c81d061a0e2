"""Builders: `docker buildx inspect` parsing, which builders are remote, and builds on them (fake engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slcc.commands.build import BuildIO, BuildOptions, build
from slcc.commands.builders import bake_target, remote_builder
from slcc.emitting import emit
from slcc.engine.docker import parse_builder
from slcc.engine.protocol import BuilderInfo
from slcc.errors import EngineError, InputError
from slcc.loading.project import Project, open_project
from tests.fakes import FakeEngine
from tests.helpers import fake_digests, make_repo

INSPECT_CONTAINER = """\
Name:          multi
Driver:        docker-container
Last Activity: 2026-12-01 21:42:51 +0000 UTC

Nodes:
Name:                  multi0
Endpoint:              unix:///var/run/docker.sock
Status:                running
Platforms:             linux/amd64, linux/amd64/v2
Labels:
 org.mobyproject.buildkit.worker.executor: oci

Name:                  multi1
Endpoint:              ssh://ci@arm64-1
Status:                running
Platforms:             linux/arm64*, linux/arm/v7
"""
REGISTRY = "127.0.0.1:1/slcc"
D2 = BuilderInfo("d2", "docker", ("d2",), ("linux/amd64",))


def test_parse_builder_reads_every_node() -> None:
    info = parse_builder(INSPECT_CONTAINER)
    assert info == BuilderInfo("multi", "docker-container", ("unix:///var/run/docker.sock", "ssh://ci@arm64-1"),
                               ("linux/amd64", "linux/amd64/v2", "linux/arm64*", "linux/arm/v7"))


def test_can_run_matches_variants() -> None:
    info = BuilderInfo("b", "docker", ("default",), ("linux/amd64/v2", "linux/arm64"))
    assert info.can_run("linux/amd64") and info.can_run("linux/arm64") and not info.can_run("linux/s390x")


def project(tmp_path: Path, **overrides: str) -> Project:
    return open_project(make_repo(tmp_path / "repo"), ["demo"], {"ca_bundle": "none", **overrides}, resolver=fake_digests)


def test_no_builder_asks_nothing_and_the_local_default_is_not_remote(tmp_path: Path) -> None:
    engine = FakeEngine()
    assert remote_builder(project(tmp_path).settings, engine) is None and engine.journal.mark() == 0
    assert remote_builder(project(tmp_path, builder="default").settings, engine) is None


def test_remote_builder_needs_a_registry(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"builder 'd2' \(docker driver on d2\) .* needs a registry"):
        remote_builder(project(tmp_path, builder="d2").settings, FakeEngine(builder_info=D2))
    with pytest.raises(InputError, match="no buildx builder 'nope'"):
        remote_builder(project(tmp_path, builder="nope").settings, FakeEngine(builder_info=D2))
    settings = project(tmp_path, builder="d2", repository=REGISTRY).settings
    assert remote_builder(settings, FakeEngine(builder_info=D2)) == D2
    assert bake_target(settings, D2) == (None, "d2")  # another daemon's docker driver: its context
    container = BuilderInfo("multi", "docker-container", ("unix:///x",), ())
    assert bake_target(settings, container) == ("d2", None)


def test_build_on_a_remote_builder_ignores_local_images_and_pushes(tmp_path: Path) -> None:
    proj = project(tmp_path, builder="d2", repository=REGISTRY)
    hashes = proj.hash_all()["demo"]
    names = emit.target_names(proj.flavors)
    engine = FakeEngine(builder_info=D2, tags_by_target={names[("demo", s)]: h.tag(REGISTRY) for s, h in hashes.items()})
    engine.local.add(hashes["base"].tag(REGISTRY))  # only in this machine's store: useless to d2
    engine.registry.add(hashes["base"].tag(REGISTRY)[:-1])  # not this tag
    report = build(proj, BuildOptions(progress="quiet"), BuildIO(lambda _m: None, lambda _m: None, engine))
    assert {s.step: s.status for s in report.steps} == {"base": "built", "app": "built"}
    request = engine.bakes[0]
    assert request.push and request.context == "d2" and request.builder is None



def test_load_on_a_remote_builder_pulls_the_goals_it_built(tmp_path: Path) -> None:
    proj = project(tmp_path, builder="d2", repository=REGISTRY)
    hashes = proj.hash_all()["demo"]
    names = emit.target_names(proj.flavors)
    engine = FakeEngine(builder_info=D2, tags_by_target={names[("demo", s)]: h.tag(REGISTRY) for s, h in hashes.items()})
    build(proj, BuildOptions(load=True, progress="quiet"), BuildIO(lambda _m: None, lambda _m: None, engine))
    assert engine.pulled == [hashes["app"].tag(REGISTRY)]  # the goal; base stays in the registry


def test_a_remote_builder_without_an_answering_registry_is_an_engine_fault(tmp_path: Path) -> None:
    proj = project(tmp_path, builder="d2", repository=REGISTRY)
    engine = FakeEngine(builder_info=D2, registry_down=True)
    with pytest.raises(EngineError, match="builder 'd2' \\(docker driver\\) needs the registry"):
        build(proj, BuildOptions(progress="quiet"), BuildIO(lambda _m: None, lambda _m: None, engine))
    assert engine.bakes == []  # nothing built that could go nowhere
