"""`slcc graph` output, byte for byte, per format (tests/unit/golden/graph/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slcc.loading.project import open_project
from slcc.output import render
from tests.helpers import fake_digests, make_repo

GOLDEN = Path(__file__).parent / "golden" / "graph"


@pytest.mark.parametrize("fmt", render.GRAPH_FORMATS)
def test_graph_matches_its_golden_file(tmp_path: Path, fmt: str) -> None:
    project = open_project(make_repo(tmp_path / "repo"), ["demo"], {"ca_bundle": "none"}, resolver=fake_digests)
    assert render.graph(project.flavors, fmt) == (GOLDEN / f"demo.{fmt}").read_text(encoding="utf-8")


def test_json_graph_carries_hashes_when_asked(tmp_path: Path) -> None:
    project = open_project(make_repo(tmp_path / "repo"), ["demo"], {"ca_bundle": "none"}, resolver=fake_digests)
    hashes = project.hash_all()
    data = json.loads(render.graph(project.flavors, "json", hashes))
    assert [s["hash"] for s in data[0]["steps"]] == [hashes["demo"][s].digest for s in ("base", "app")]
