"""Image digests in the hash, slcc.lock and scopes, on the real engine and a private registry."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ImageCleanup, LocalRegistry, run
from tests.helpers import DEMO_FILES, git, git_mapping_toml, git_source_repo, make_repo, run_slcc

PushBase = Callable[[str], str]


@pytest.fixture
def base_ref(registry: LocalRegistry, test_session_id: str) -> str:
    return registry.ref(f"lockbase-{test_session_id}", "1")


@pytest.fixture
def push_base(base_ref: str, base_image: str, image_cleanup: ImageCleanup, tmp_path: Path,
              registry: LocalRegistry) -> PushBase:
    """Build an image holding /variant and push it under ``base_ref`` (the same tag every time)."""

    def push(variant: str) -> str:
        context = tmp_path / f"base-{variant}"
        context.mkdir()
        (context / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo {variant} > /variant\n")
        run(["docker", "build", "-q", "--label", image_cleanup.label, "-t", base_ref, str(context)], timeout=300)
        run(["docker", "push", "-q", base_ref], timeout=300)
        image_cleanup.add(base_ref)
        repo, tag = base_ref.split("/", 1)[1].rsplit(":", 1)
        return _registry_digest(registry, repo, tag)

    return push


def _registry_digest(registry: LocalRegistry, repo: str, tag: str) -> str:
    accept = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " \
             "application/vnd.docker.distribution.manifest.v2+json"
    req = urllib.request.Request(f"{registry.url}/v2/{repo}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.headers["Docker-Content-Digest"])


def _slcc(repo: Path, env: dict[str, str], *args: str, ok: bool = True) -> str:
    proc = run_slcc(repo, *args, env=env)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


def _report(repo: Path, env: dict[str, str], *args: str) -> dict[str, object]:
    proc = run_slcc(repo, "build", "demo", "--json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def _statuses(report: dict[str, object]) -> dict[str, str]:
    return {s["step"]: s["status"] for s in report["steps"]}  # type: ignore[attr-defined]


def _hashes(repo: Path, env: dict[str, str], *args: str) -> dict[str, str]:
    rows = json.loads(_slcc(repo, env, "hash", "demo", "--json", *args).split("\nslcc:")[0])
    return {r["step"]: r["hash"] for r in rows}


def _run_in(tag: str, *cmd: str) -> str:
    return run(["docker", "run", "--rm", tag, *cmd], timeout=120).stdout.strip()


@pytest.fixture
def env(registry: LocalRegistry, test_session_id: str, image_cleanup: ImageCleanup) -> dict[str, str]:
    return {"SLCC_REPOSITORY": f"{registry.host}/lock-{test_session_id}"}


def test_repushed_base_rebuilds_in_local_not_in_rel(tmp_path: Path, push_base: PushBase, base_ref: str,
                                                    env: dict[str, str], image_cleanup: ImageCleanup) -> None:
    repo = make_repo(tmp_path / "repo", {"flavors/demo/flavor.toml": _toml(base_ref)})
    first = push_base("v1")
    built = _report(repo, env, "--push")
    assert built["scope"] == "local" and _statuses(built) == {"base": "built", "app": "built"}
    app_tag = next(s["tag"] for s in built["steps"] if s["step"] == "app")  # type: ignore[attr-defined]
    image_cleanup.add(*(s["tag"] for s in built["steps"]))  # type: ignore[attr-defined]
    assert _run_in(app_tag, "cat", "/variant") == "v1"

    assert "written" in _slcc(repo, env, "lock")
    assert f'"{base_ref}" = "{first}"' in (repo / "slcc.lock").read_text()
    locked = _hashes(repo, env)

    second = push_base("v2")  # a different image under the same tag
    assert second != first
    explained = _slcc(repo, env, "explain", "demo", "--scope", "local")
    assert f"base image {base_ref} moved from {first} to {second}" in explained
    rebuilt = _report(repo, env, "--scope", "local")
    assert _statuses(rebuilt) == {"base": "built", "app": "built"}
    new_app = next(s["tag"] for s in rebuilt["steps"] if s["step"] == "app")  # type: ignore[attr-defined]
    image_cleanup.add(*(s["tag"] for s in rebuilt["steps"]))  # type: ignore[attr-defined]
    assert _run_in(new_app, "cat", "/variant") == "v2"

    # rel (the default once slcc.lock exists) keeps the locked digest: nothing to build.
    rel = _report(repo, env)
    assert rel["scope"] == "rel" and rel["baked"] is False and _statuses(rel) == {"app": "fresh-local"}
    assert _hashes(repo, env) == locked

    check = run_slcc(repo, "lock", "--check", env=env)
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"~ image {base_ref}: locked {first}, now {second}" in check.stdout

    _slcc(repo, env, "lock", "--update")
    assert run_slcc(repo, "lock", "--check", env=env).returncode == 0
    moved = _hashes(repo, env)
    assert moved["base"] != locked["base"] and moved["app"] != locked["app"]
    assert moved == _hashes(repo, env, "--scope", "local")


def test_two_checkouts_in_rel_share_hashes_and_images(tmp_path: Path, push_base: PushBase, base_ref: str,
                                                      env: dict[str, str], image_cleanup: ImageCleanup) -> None:
    one = make_repo(tmp_path / "one", {"flavors/demo/flavor.toml": _toml(base_ref)})
    push_base("v1")
    _slcc(one, env, "lock")
    two = tmp_path / "elsewhere" / "two"
    shutil.copytree(one, two, ignore=shutil.ignore_patterns(".slcc"))
    push_base("v2")  # the tag moves after the lock was written: rel must not follow it

    built = _report(one, env, "--push")
    assert built["scope"] == "rel" and _statuses(built) == {"base": "built", "app": "built"}
    tags = [str(s["tag"]) for s in built["steps"]]  # type: ignore[attr-defined]
    image_cleanup.add(*tags)
    assert _run_in(tags[-1], "cat", "/variant") == "v1"
    assert _hashes(one, env) == _hashes(two, env)
    for tag in tags:  # the second checkout may only find them in the registry
        run(["docker", "image", "rm", tag], timeout=60)

    reused = _report(two, env)
    assert reused["baked"] is False and _statuses(reused) == {"app": "fresh-registry"}
    assert [s["tag"] for s in reused["steps"]] == tags[-1:]  # type: ignore[attr-defined]


def test_named_context_pins_a_local_only_image(tmp_path: Path, base_image: str, image_cleanup: ImageCleanup,
                                               test_session_id: str) -> None:
    """The bake context docker-image://name:tag@digest overrides FROM name:tag, for a local-only image."""
    repo = make_repo(tmp_path / "repo")
    env = {"SLCC_REPOSITORY": f"lock-{test_session_id}"}
    text = _slcc(repo, env, "emit-bake", "demo", "-o", "-")
    digest = json.loads(run(["docker", "image", "inspect", base_image], timeout=60).stdout)[0]["Id"]
    assert f'"{base_image}" = "docker-image://{base_image}@{digest}"' in text
    report = _report(repo, env)
    image_cleanup.add(*(s["tag"] for s in report["steps"]))  # type: ignore[attr-defined]
    assert _statuses(report) == {"base": "built", "app": "built"}


def _toml(base_ref: str) -> str:
    return DEMO_FILES["flavors/demo/flavor.toml"].replace('BASE = "slcc-test/busybox:1"', f'BASE = "{base_ref}"')


def _app_text(report: dict[str, object]) -> str:
    tag = next(s["tag"] for s in report["steps"] if s["step"] == "app")  # type: ignore[attr-defined]
    return _run_in(str(tag), "cat", "/base.txt")


def test_git_mapping_at_a_tag_main_rebuilds_rel_does_not(tmp_path: Path, base_image: str, test_session_id: str,
                                                         image_cleanup: ImageCleanup) -> None:
    source = git_source_repo(tmp_path / "client-src")
    repo = make_repo(tmp_path / "repo", {"flavors/demo/flavor.toml": git_mapping_toml(str(source)), "src/main.txt": None})
    env = {"SLCC_REPOSITORY": f"lock-git-{test_session_id}"}
    v1 = git(source, "rev-parse", "v1")

    tagged = _report(repo, env, "--scope", "tag")  # builds at the tag, then writes slcc.lock
    image_cleanup.add(*(s["tag"] for s in tagged["steps"]))  # type: ignore[attr-defined]
    assert tagged["scope"] == "tag" and _app_text(tagged) == "hello\nmain v1"
    lock_text = (repo / "slcc.lock").read_text()
    assert '[sources."demo"."src"]' in lock_text and f'commit = "{v1}"' in lock_text and 'ref = "tag:v1"' in lock_text
    assert f'tree = "{git(source, "rev-parse", "v1^{tree}")}"' in lock_text

    (source / "main.txt").write_text("main v2\n")  # the branch moves on; the tag stays
    git(source, "commit", "-qam", "v2")
    v2 = git(source, "rev-parse", "HEAD")
    assert f"mapping src moved from tag:v1 {v1[:12]} to branch:main {v2[:12]}" in \
        _slcc(repo, env, "explain", "demo", "--scope", "main")
    main = _report(repo, env, "--scope", "main")
    image_cleanup.add(*(s["tag"] for s in main["steps"]))  # type: ignore[attr-defined]
    assert _statuses(main) == {"app": "built", "base": "fresh-local"} and _app_text(main) == "hello\nmain v2"

    rel = _report(repo, env)  # the default with a lock: exactly the locked commit
    assert rel["scope"] == "rel" and rel["baked"] is False and _statuses(rel) == {"app": "fresh-local"}
    assert [s["tag"] for s in rel["steps"]] == [tagged["steps"][-1]["tag"]]  # type: ignore[attr-defined,index]
    assert run_slcc(repo, "lock", "--check", env=env).returncode == 0  # pinned at the tag, which did not move

    git(source, "tag", "-f", "v1")  # now the tag moves too
    check = run_slcc(repo, "lock", "--check", env=env)
    assert check.returncode == 1 and f"~ source demo/src: locked tag:v1 {v1}, now tag:v1 {v2}" in check.stdout
    _slcc(repo, env, "lock", "--update", "src")
    assert _hashes(repo, env) == _hashes(repo, env, "--scope", "main")  # same tree: same hash


def test_git_mapping_from_a_url_and_bad_refs(tmp_path: Path, base_image: str, test_session_id: str) -> None:
    source = git_source_repo(tmp_path / "client-src")
    env = {"SLCC_REPOSITORY": f"lock-git-{test_session_id}"}
    by_path = make_repo(tmp_path / "a", {"flavors/demo/flavor.toml": git_mapping_toml(str(source)), "src/main.txt": None})
    by_url = make_repo(tmp_path / "b", {"flavors/demo/flavor.toml": git_mapping_toml(f"file://{source}"),
                                        "src/main.txt": None})
    assert _hashes(by_path, env, "--scope", "tag") == _hashes(by_url, env, "--scope", "tag")  # tree id, not source
    assert (by_url / ".slcc/git" / git(source, "rev-parse", "v1") / "main.txt").read_text() == "main v1\n"

    (by_url / "flavors/demo/flavor.toml").write_text(git_mapping_toml(f"file://{source}").replace('tag = "v1"', 'tag = "v9"'))
    missing = run_slcc(by_url, "hash", "demo", "--scope", "tag", env=env)
    assert missing.returncode == 2 and missing.stderr.strip().endswith(f"tag 'v9' does not exist in git source "
                                                                       f"file://{source}")
    gone = make_repo(tmp_path / "c", {"flavors/demo/flavor.toml": git_mapping_toml(f"file://{tmp_path}/nothing"),
                                      "src/main.txt": None})
    unreachable = run_slcc(gone, "lock", env=env)
    assert unreachable.returncode == 1 and "cannot reach git source" in unreachable.stderr
    assert len(unreachable.stderr.strip().splitlines()) == 1 and not (gone / "slcc.lock").exists()


def test_unreachable_registry_is_a_fault_for_lock_and_a_warning_for_a_build(
        tmp_path: Path, push_base: PushBase, base_ref: str, env: dict[str, str], registry: LocalRegistry,
        image_cleanup: ImageCleanup) -> None:
    repo = make_repo(tmp_path / "repo", {"flavors/demo/flavor.toml": _toml(base_ref)})
    digest = push_base("v1")  # also tagged in the local store
    with registry.down():
        locked = run_slcc(repo, "lock", env=env)
        assert locked.returncode == 1, locked.stderr
        assert len(locked.stderr.strip().splitlines()) == 1 and "unreachable" in locked.stderr
        assert not (repo / "slcc.lock").exists()
        # A build warns and uses the local store's copy, which is the pushed image here.
        hashed = run_slcc(repo, "hash", "demo", "--json", env=env)
        assert hashed.returncode == 0 and "using the local image store" in hashed.stderr
        run(["docker", "image", "rm", base_ref], timeout=60)
        gone = run_slcc(repo, "hash", "demo", env=env)
        assert gone.returncode == 1 and "local image store does not have it" in gone.stderr.strip().splitlines()[-1]
    assert digest.startswith("sha256:")


def test_a_checkout_cleaned_while_the_build_waits_for_the_lock_is_checked_out_again(
        tmp_path: Path, base_image: str, test_session_id: str, image_cleanup: ImageCleanup) -> None:
    """The build resolves its git mappings before it takes the build lock; a `slcc clean` that
    held the lock meanwhile may remove the checkout, so the build checks it out again."""
    source = git_source_repo(tmp_path / "client-src")
    repo = make_repo(tmp_path / "repo", {"flavors/demo/flavor.toml": git_mapping_toml(str(source)), "src/main.txt": None})
    env = {"SLCC_REPOSITORY": f"lock-git-{test_session_id}"}
    checkout = repo / ".slcc/git" / git(source, "rev-parse", "v1")
    (repo / ".slcc").mkdir()
    with (repo / ".slcc/build.lock").open("a") as held:  # what a running clean holds
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, "-m", "slcc", "-C", str(repo), "build", "demo", "--json",
                                 "--scope", "tag"], env={**os.environ, **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        with proc:
            assert proc.stderr is not None
            waiting = proc.stderr.readline()
            assert "waiting for another slcc build" in waiting, waiting
            assert (checkout / "main.txt").is_file()  # resolved before the lock
            shutil.rmtree(checkout)  # the clean removes the checkout the build resolved
            (checkout.parent / f"{checkout.name}.tree").unlink(missing_ok=True)
            fcntl.flock(held, fcntl.LOCK_UN)
            out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    report = json.loads(out)
    image_cleanup.add(*(s["tag"] for s in report["steps"]))
    assert _app_text(report) == "hello\nmain v1" and (checkout / "main.txt").is_file()
