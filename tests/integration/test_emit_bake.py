"""Emitted bake files on the real buildx: parsed exactly, and buildable without slcc."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from slcc.emitting.emit import EmitRequest, emit_bake
from slcc.hashing.stephash import FlavorHasher
from slcc.loading.config import load_settings
from slcc.loading.flavor import load_flavor
from slcc.vocabulary import StepKey
from tests.conftest import ImageCleanup, LocalRegistry
from tests.helpers import fake_digests, flavor_images, make_repo, run_slcc
from tests.unit.test_emit import HOSTILE


def bake_print(repo: Path, file: str, *targets: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLCC_")}
    proc = subprocess.run(["docker", "buildx", "bake", "-f", file, "--print", *targets],
                          cwd=repo, capture_output=True, text=True, timeout=120, check=False,
                          env={**clean, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["target"]  # type: ignore[no-any-return]


def test_hostile_strings_survive_buildx_parsing(tmp_path: Path, engine: object) -> None:
    repo = make_repo(tmp_path / "repo", HOSTILE)
    out = run_slcc(repo, "emit-bake", "demo")
    assert out.returncode == 0, out.stderr
    targets = bake_print(repo, "bake/demo.hcl", "demo_base", "demo_app")
    assert targets["demo_base"]["args"] == {
        "BASE": "slcc-test/busybox:1",
        "HOSTILE": '${HOME} %{if x} "q" back\\slash\nnew line ☃',
        "http_proxy": "http://proxy:3128/${x}",
    }
    assert targets["demo_app"]["contexts"] == {"base": "target:demo_base", "src": 'my "src" ${dir} %{x} ü'}


def test_raw_bake_builds_exactly_the_tags_slcc_expects(
    tmp_path: Path, base_image: str, image_cleanup: ImageCleanup
) -> None:
    repo = make_repo(tmp_path / "repo", HOSTILE)
    repository = f"slcct{uuid.uuid4().hex[:10]}"
    assert run_slcc(repo, "emit-bake", "demo", "--repository", repository).returncode == 0
    hashes = json.loads(run_slcc(repo, "hash", "demo", "--json", "--repository", repository).stdout)
    image_cleanup.add(*(h["tag"] for h in hashes))

    # No slcc in this run: plain buildx on the emitted file, from the repository root.
    proc = subprocess.run(["docker", "buildx", "bake", "-f", "bake/demo.hcl", "demo_base", "demo_app"],
                          cwd=repo, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for h in hashes:
        inspect = subprocess.run(["docker", "image", "inspect", h["tag"], "--format", "{{json .Config.Labels}}"],
                                 capture_output=True, text=True, check=True)
        assert json.loads(inspect.stdout)["org.slcc.hash"] == h["hash"]
    hostile = subprocess.run(["docker", "run", "--rm", hashes[0]["tag"], "cat", "/hostile.txt"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert hostile.stdout == '${HOME} %{if x} "q" back\\slash\nnew line ☃\n'

    # slcc agrees: everything the raw bake produced is fresh.
    report = json.loads(run_slcc(repo, "build", "demo", "--json", "--repository", repository).stdout)
    assert report["baked"] is False


def test_bake_variables_set_repository_and_cache(tmp_path: Path, engine: object) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".slcc" / "cache" / "demo" / "base").mkdir(parents=True)  # buildx drops a missing local source
    team = ["--repository", "127.0.0.1:5000/team"]
    assert run_slcc(repo, "emit-bake", "demo", *team).returncode == 0
    tags = {h["step"]: h["tag"] for h in json.loads(run_slcc(repo, "hash", "demo", "--json", *team).stdout)}

    # Defaults: the tags and cache settings slcc itself uses for this repository.
    base = bake_print(repo, "bake/demo.hcl", "demo_base")["demo_base"]
    assert base["tags"] == [tags["base"]]
    assert base["cache-from"] == ["type=registry,ref=127.0.0.1:5000/team/demo:cache-base"]
    assert base["cache-to"] == ["type=registry,ref=127.0.0.1:5000/team/demo:cache-base,mode=max"]

    # What a CI sets: another registry, and the GitHub Actions cache.
    ci = bake_print(repo, "bake/demo.hcl", "demo_base",
                    env={"SLCC_REPOSITORY": "ghcr.io/acme/slc", "SLCC_CACHE": "gha"})["demo_base"]
    assert ci["tags"] == [tags["base"].replace("127.0.0.1:5000/team/", "ghcr.io/acme/slc/")]
    assert ci["cache-from"] == ["type=gha,scope=demo-base"]
    assert ci["cache-to"] == ["type=gha,scope=demo-base,mode=max"]

    local = bake_print(repo, "bake/demo.hcl", "demo_base", env={"SLCC_CACHE": "local"})["demo_base"]
    assert local["cache-from"] == ["type=local,src=.slcc/cache/demo/base"]
    assert local["cache-to"] == ["type=local,dest=.slcc/cache/demo/base,mode=max"]
    inline = bake_print(repo, "bake/demo.hcl", "demo_base", env={"SLCC_CACHE": "inline"})["demo_base"]
    assert "cache-from" not in inline and inline["cache-to"] == ["type=inline"]
    none = bake_print(repo, "bake/demo.hcl", "demo_base", env={"SLCC_CACHE": "none"})["demo_base"]
    assert "cache-from" not in none and "cache-to" not in none


def test_fresh_dependency_reference_follows_the_repository_variable(tmp_path: Path, engine: object) -> None:
    repo = make_repo(tmp_path / "repo")
    settings = load_settings(repo, {"ca_bundle": "none"}, environ={})
    flavor = load_flavor(repo, "demo")
    hashes = {"demo": FlavorHasher(images=fake_digests(flavor_images(flavor))).hash_flavor(flavor)}
    text = emit_bake(EmitRequest([flavor], hashes, settings, only=frozenset({StepKey("demo", "app")})))
    (repo / "app.hcl").write_text(text, encoding="utf-8")
    app = bake_print(repo, "app.hcl", "demo_app", env={"SLCC_REPOSITORY": "reg.example:5000/x"})["demo_app"]
    base_tag = hashes["demo"]["base"].tag("reg.example:5000/x")
    assert app["contexts"] == {"base": "docker-image://" + base_tag, "src": "src"}
    assert app["tags"] == [hashes["demo"]["app"].tag("reg.example:5000/x")]


def test_ci_run_with_variables_pushes_what_slcc_then_finds_fresh(
    tmp_path: Path, base_image: str, registry: LocalRegistry, image_cleanup: ImageCleanup
) -> None:
    repo = make_repo(tmp_path / "repo")
    assert run_slcc(repo, "emit-bake", "demo", "-o", "ci/demo.hcl").returncode == 0  # local defaults
    repository = f"{registry.host}/slcct{uuid.uuid4().hex[:10]}"
    hashes = json.loads(run_slcc(repo, "hash", "demo", "--json", "--repository", repository).stdout)
    image_cleanup.add(*(h["tag"] for h in hashes))

    # What the CI recipes in docs/scale-out.md run: plain buildx, the two variables, --push.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLCC_")}
    proc = subprocess.run(["docker", "buildx", "bake", "-f", "ci/demo.hcl", "--push", "demo"], cwd=repo,
                          env={**clean, "SLCC_REPOSITORY": repository, "SLCC_CACHE": "registry"},
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{repository}/demo:cache-app" in proc.stderr  # the registry cache was exported

    # A machine with an empty store finds everything in the registry: no bake.
    for h in hashes:
        subprocess.run(["docker", "image", "rm", h["tag"]], capture_output=True, check=False)
    report = json.loads(run_slcc(repo, "build", "demo", "--json", "--repository", repository).stdout)
    assert report["baked"] is False and [s["status"] for s in report["steps"]] == ["fresh-registry"]
