"""State slcc can rebuild is discarded with a warning, never fatal (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slcc.state.store import State, valid_manifest
from tests.helpers import fake_digests, make_repo, run_slcc


@pytest.mark.parametrize("text", [
    '["a", "list"]',
    '{"flavor": "demo", "step": "app", "hash": 3}',
    '{"version": "1", "flavor": "demo", "step": "app", "hash": "h", "dockerfile": "d", "context": [],'
    ' "mappings": {}, "args": {}, "depends": {}, "platforms": []}',
    "not json at all",
])
def test_manifest_of_the_wrong_shape_is_ignored_with_a_warning(tmp_path: Path, text: str) -> None:
    path = tmp_path / "manifests" / "demo" / "app.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    warnings: list[str] = []
    assert State(tmp_path, warnings.append).last_manifest("demo", "app") is None
    assert len(warnings) == 1 and str(path) in warnings[0]


def test_explain_survives_a_garbled_manifest(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    manifest = repo / ".slcc" / "manifests" / "demo" / "app.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"flavor": "demo", "step": "app", "context": {"files": 7}}))
    result = run_slcc(repo, "explain", "demo", "--json")
    if result.returncode == 1 and "Docker daemon" in result.stderr:
        pytest.skip("explain asks the engine which images exist")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "not a manifest slcc wrote" in result.stderr


def test_manifest_slcc_writes_is_valid(tmp_path: Path) -> None:
    from slcc.loading.project import open_project

    project = open_project(make_repo(tmp_path / "repo"), ["demo"], {"ca_bundle": "none"}, use_stat_cache=False,
                           resolver=fake_digests)
    for step_hash in project.hash_all()["demo"].values():
        assert valid_manifest(json.loads(json.dumps(step_hash.manifest())))
