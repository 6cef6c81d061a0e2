"""Bake emission: golden output with hostile strings, determinism, names, partial files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slcc.emitting.emit import EmitRequest, emit_bake, local_cache_dir, target_names
from slcc.errors import InputError
from slcc.hashing.stephash import FlavorHasher
from slcc.loading.config import load_settings
from slcc.loading.flavor import load_flavor
from tests.helpers import DEMO_FILES, fake_digests, flavor_images, make_repo

GOLDEN = Path(__file__).parent / "golden"
HOSTILE_DIR = 'my "src" ${dir} %{x} ü'
HOSTILE = {
    "flavors/demo/flavor.toml": DEMO_FILES["flavors/demo/flavor.toml"]
    .replace('src = "../../src"', 'src = \'../../my "src" ${dir} %{x} ü\'')
    .replace("[mappings]", 'HOSTILE = "${HOME} %{if x} \\"q\\" back\\\\slash\\nnew line ☃"\n\n'
             '[transparent_args]\nhttp_proxy = "http://proxy:3128/${x}"\n\n[mappings]')
    .replace('description = "two steps and a mapping"', 'description = "hostile: ${x} \\"q\\""')
    .replace("[steps.app]\n", '[steps.app]\ndescription = "uses %{x} and ${y}"\n'),
    "flavors/demo/base/Dockerfile": "ARG BASE\nFROM ${BASE}\nARG HOSTILE\nCOPY hello.txt /hello.txt\n"
    "RUN echo \"$HOSTILE\" > /hostile.txt\n",
    f"{HOSTILE_DIR}/main.txt": "main\n",
    "src/main.txt": None,
}


def emit(repo: Path, **kwargs: object) -> str:
    settings = load_settings(repo, {"ca_bundle": "none"}, environ={})
    flavor = load_flavor(repo, "demo")
    hashes = {"demo": FlavorHasher(default_platform="linux/amd64", images=fake_digests(flavor_images(flavor))).hash_flavor(flavor)}
    return emit_bake(EmitRequest([flavor], hashes, settings, **kwargs))  # type: ignore[arg-type]


def test_golden_with_hostile_strings(tmp_path: Path) -> None:
    text = emit(make_repo(tmp_path / "repo", HOSTILE))
    golden = GOLDEN / "hostile.hcl"
    if os.environ.get("SLCC_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_identical_inputs_give_identical_bytes_anywhere(tmp_path: Path) -> None:
    one = emit(make_repo(tmp_path / "a", HOSTILE))
    two = emit(make_repo(tmp_path / "b" / "elsewhere", HOSTILE))
    assert one == two


def test_fresh_dependencies_become_image_references(tmp_path: Path) -> None:
    text = emit(make_repo(tmp_path / "repo"), only=frozenset({("demo", "app")}))
    assert 'target "demo_base"' not in text
    assert '"base" = "docker-image://${SLCC_REPOSITORY}/demo:base-' in text
    assert 'targets = ["demo_app"]' in text


def test_registry_cache_and_ca_secret(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    bundle = tmp_path / "ca, with comma.pem"
    bundle.write_text("x")
    settings = load_settings(repo, {"repository": "127.0.0.1:5000/team", "ca_bundle": str(bundle)}, environ={})
    flavor = load_flavor(repo, "demo")
    text = emit_bake(EmitRequest([flavor], {"demo": FlavorHasher(images=fake_digests(flavor_images(flavor))).hash_flavor(flavor)}, settings))
    # The settings become the defaults of the bake variables that the targets use.
    assert 'variable "SLCC_REPOSITORY" {\n  default = "127.0.0.1:5000/team"\n}' in text
    assert 'variable "SLCC_CACHE" {\n  default = "registry"\n}' in text
    assert 'cache-to = slcc_cache_to("demo", "app", "dest=.slcc/cache/demo/app")' in text
    assert 'tags = ["${SLCC_REPOSITORY}/demo:app-' in text
    assert f'secret = ["id=ca,\\"src={bundle}\\""]' in text


def test_local_cache_directory_is_one_csv_field(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    settings = load_settings(repo, {"ca_bundle": "none"}, environ={"SLCC_STATE_DIR": 'st,"x"'})
    flavor = load_flavor(repo, "demo")
    text = emit_bake(EmitRequest([flavor], {"demo": FlavorHasher(images=fake_digests(flavor_images(flavor))).hash_flavor(flavor)}, settings))
    assert 'cache-from = slcc_cache_from("demo", "app", "\\"src=st,\\"\\"x\\"\\"/cache/demo/app\\"")' in text


def test_target_name_collisions_are_errors(tmp_path: Path) -> None:
    files = {
        "flavors/a.b/flavor.toml": "[steps.c]\n",
        "flavors/a.b/c/Dockerfile": "FROM scratch\n",
        "flavors/a_b/flavor.toml": "[steps.c]\n",
        "flavors/a_b/c/Dockerfile": "FROM scratch\n",
    }
    repo = make_repo(tmp_path / "repo", files)
    flavors = [load_flavor(repo, "a.b"), load_flavor(repo, "a_b")]
    with pytest.raises(InputError, match="collides"):
        target_names(flavors)


def test_each_targets_local_cache_is_local_cache_dir_even_outside_the_repository(tmp_path: Path) -> None:
    # The directory is worked out once per file; it must still be the one `slcc build` checks per step.
    repo = make_repo(tmp_path / "repo")
    settings = load_settings(repo, {"ca_bundle": "none"}, environ={"SLCC_STATE_DIR": str(tmp_path / "state")})
    flavor = load_flavor(repo, "demo")
    text = emit_bake(EmitRequest([flavor], {"demo": FlavorHasher(images=fake_digests(flavor_images(flavor))).hash_flavor(flavor)}, settings))
    for step in ("base", "app"):
        expected = os.path.relpath(local_cache_dir(settings, "demo", step), repo)
        assert expected == f"../state/cache/demo/{step}"
        assert f'cache-from = slcc_cache_from("demo", "{step}", "src={expected}")' in text
        assert f'cache-to = slcc_cache_to("demo", "{step}", "dest={expected}")' in text
