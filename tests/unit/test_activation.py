"""`slcc activation`: exaslct's ALTER SESSION statement from the template or the JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slcc.commands.import_exaslct import import_exaslct
from slcc.errors import InputError
from slcc.loading import activation
from tests.exaslct_repo import FLAVOR, LANGUAGE_DEFINITIONS, make_exaslct_repo
from tests.helpers import run_slcc

LOCATION = activation.BucketLocation("bfsdefault", "default", "my_slc", "slc")
# What exaslct's LanguageDefinition.generate_alter_session() returns for the same template and
# options (checked against exaslct's own code on all 14 script-languages-release flavors).
EXPECTED = ("ALTER SESSION SET SCRIPT_LANGUAGES='PYTHON3=localzmq+protobuf:///bfsdefault/default/slc/my_slc"
            "?lang=python#buckets/bfsdefault/default/slc/my_slc/exaudf/exaudfclient';")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    source = make_exaslct_repo(tmp_path / "slr")
    import_exaslct(source, [FLAVOR], tmp_path / "dest", check=False)
    return tmp_path / "dest"


def slcc_activation(repo: Path, *extra: str) -> str:
    out = run_slcc(repo, "activation", FLAVOR, "--bucketfs-name", "bfsdefault", "--bucket-name", "default",
                   "--container-name", "my_slc", *extra)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_template_gives_exaslcts_statement(repo: Path) -> None:
    assert slcc_activation(repo, "--path-in-bucket", "slc") == EXPECTED
    assert slcc_activation(repo, "--path-in-bucket", "slc/") == EXPECTED
    assert "///bfsdefault/default/my_slc?" in slcc_activation(repo)
    assert slcc_activation(repo, "--path-in-bucket", "slc", "--system").startswith("ALTER SYSTEM SET SCRIPT_LANGUAGES='")


def test_json_gives_one_entry_per_alias(repo: Path) -> None:
    data = json.loads(slcc_activation(repo, "--path-in-bucket", "slc", "--source", "json", "--json"))
    assert data["kind"] == "json" and data["source"].endswith("language_definitions.json")
    assert data["alter_session"] == EXPECTED  # one alias, same URL as the template's


def test_json_with_several_aliases_and_parameters(tmp_path: Path) -> None:
    path = tmp_path / "language_definitions.json"
    data = json.loads(LANGUAGE_DEFINITIONS)
    data["language_definitions"][0]["aliases"] = ["PYTHON3", "PYTHON312"]
    data["language_definitions"][0]["parameters"].append({"key": "mode", "value": "a b"})
    path.write_text(json.dumps(data))
    result = activation.from_definitions(path, activation.BucketLocation("bfs", "b", "c"))
    url = "localzmq+protobuf:///bfs/b/c?lang=python&mode=a+b#buckets/bfs/b/c/exaudf/exaudfclient"
    assert result.definition == f"PYTHON3={url} PYTHON312={url}"


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda d: d.update(schema_version=1), "schema_version is 1"),
    (lambda d: d["language_definitions"][0].update(aliases=[]), "aliases must be a non-empty list"),
    (lambda d: d["language_definitions"][0].pop("udf_client_path"), "udf_client_path must be an object"),
    (lambda d: d["language_definitions"][0].update(parameters=[{"key": 1}]), "parameters must be a list"),
    (lambda d: d.update(language_definitions=[]), "language_definitions must be a non-empty list"),
])
def test_invalid_definitions_are_named(tmp_path: Path, edit: object, problem: str) -> None:
    path = tmp_path / "language_definitions.json"
    data = json.loads(LANGUAGE_DEFINITIONS)
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=problem) as info:
        activation.load_definitions(path)
    assert str(path) in str(info.value)


def test_template_with_other_jinja_is_refused_with_line(tmp_path: Path) -> None:
    path = tmp_path / "language_definition"
    path.write_text("A={{ bucketfs_name }}\nB={{ other }}\n")
    with pytest.raises(InputError, match=r"language_definition:2: unknown placeholder"):
        activation.from_template(path, LOCATION)
    path.write_text("A={% if x %}y{% endif %}\n")
    with pytest.raises(InputError, match=r"language_definition:1: Jinja beyond"):
        activation.from_template(path, LOCATION)


def test_flavor_without_definition_is_bad_input(repo: Path) -> None:
    (repo / "flavors" / FLAVOR / "flavor_base/language_definition").unlink()
    out = run_slcc(repo, "activation", FLAVOR, "--bucketfs-name", "b", "--bucket-name", "d",
                   "--container-name", "c", "--source", "template")
    assert out.returncode == 2 and "no language definition" in out.stderr
