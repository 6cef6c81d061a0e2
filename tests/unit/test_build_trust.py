"""A hash-tagged image is trusted only when its org.slcc.hash label matches its tag (issue 18)."""

from __future__ import annotations

from pathlib import Path

from slcc.commands.build import BuildIO, BuildOptions, build
from slcc.emitting import emit
from slcc.loading.project import open_project
from slcc.vocabulary import StepKey
from tests.fakes import FakeEngine
from tests.helpers import fake_digests, make_repo


def test_image_retagged_by_hand_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    project = open_project(make_repo(tmp_path / "repo"), ["demo"], {"ca_bundle": "none"}, resolver=fake_digests)
    hashes = project.hash_all()["demo"]
    tags = {step: h.tag("slcc") for step, h in hashes.items()}
    names = emit.target_names(project.flavors)
    engine = FakeEngine(
        local=set(tags.values()),
        labels={tags["base"]: hashes["base"].digest, tags["app"]: hashes["base"].digest},  # app is base's image
        tags_by_target={names[StepKey("demo", s)]: t for s, t in tags.items()},
    )
    warnings: list[str] = []
    report = build(project, BuildOptions(), BuildIO(warnings.append, lambda _line: None, engine))
    assert {s.step: s.status for s in report.steps} == {"app": "built", "base": "fresh-local"}
    assert engine.bakes[0].targets == ("demo_app",)
    assert any(tags["app"] in w and "rebuilding it" in w for w in warnings), warnings


def test_matching_and_missing_labels_are_trusted(tmp_path: Path) -> None:
    project = open_project(make_repo(tmp_path / "repo"), ["demo"], {"ca_bundle": "none"}, resolver=fake_digests)
    hashes = project.hash_all()["demo"]
    app = hashes["app"].tag("slcc")
    for label in (hashes["app"].digest, None):
        engine = FakeEngine(local={app}, labels={app: label})
        warnings: list[str] = []
        report = build(project, BuildOptions(), BuildIO(warnings.append, lambda _line: None, engine))
        assert not report.baked and not warnings
