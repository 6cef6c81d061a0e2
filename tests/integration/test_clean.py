"""`slcc clean` and `slcc du` on the real engine: keep policies, dry run, the build lock,
images slcc did not build, and registry tag deletion followed by the registry's own GC."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ImageCleanup, LocalRegistry, _registry_binary
from tests.helpers import git, git_mapping_toml, git_source_repo, make_repo, run_slcc, write_files
from tests.integration.conftest import DemoRepoFactory


def local_tags(repository: str) -> set[str]:
    out = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                          "--filter", f"reference={repository}/*"], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def slcc_json(repo: Path, *args: str) -> Any:
    proc = run_slcc(repo, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def five_builds(repo: Path, repository: str, image_cleanup: ImageCleanup, *extra: str) -> dict[str, set[str]]:
    """Five builds with an edit before each; base changes once. Returns step -> every tag built."""
    built: dict[str, set[str]] = {"base": set(), "app": set()}
    for n in range(1, 6):
        write_files(repo, {"src/main.txt": f"main v{n}\n"})
        if n == 3:
            write_files(repo, {"flavors/demo/base/hello.txt": "hello v3\n"})
        report = slcc_json(repo, "build", "demo", "--repository", repository, "--progress", "quiet", *extra)
        for step in report["steps"]:
            image_cleanup.add(step["tag"])
            built[step["step"]].add(step["tag"])
    return built


def test_keep_one_after_five_builds_removes_exactly_the_older_images(
    repo: Path, repository: str, image_cleanup: ImageCleanup,
) -> None:
    built = five_builds(repo, repository, image_cleanup)
    assert (len(built["app"]), len(built["base"])) == (5, 2)
    current = {s["tag"] for s in slcc_json(repo, "hash", "demo", "--repository", repository)}
    assert local_tags(repository) == built["app"] | built["base"]

    usage = slcc_json(repo, "du", "--repository", repository)
    assert {u["group"]: u["images"] for u in usage["steps"]} == {"demo/app": 5, "demo/base": 2}

    dry = slcc_json(repo, "clean", "--repository", repository, "--keep", "1", "--dry-run")
    would = {i["name"] for i in dry["items"] if i["remove"] and i["kind"] == "image"}
    assert would == (built["app"] | built["base"]) - current
    assert dry["freed_bytes"] > 0 and local_tags(repository) == built["app"] | built["base"]  # nothing removed

    done = slcc_json(repo, "clean", "--repository", repository, "--keep", "1")
    assert {i["name"] for i in done["items"] if i["result"] == "removed" and i["kind"] == "image"} == would
    assert local_tags(repository) == current

    noop = slcc_json(repo, "build", "demo", "--repository", repository)
    assert noop["baked"] is False


def test_all_removes_only_what_slcc_built_and_waits_for_the_build_lock(
    demo_repo: DemoRepoFactory, repository: str, image_cleanup: ImageCleanup,
) -> None:
    # A base no other test has: the daemon untags an image a container uses when it has other tags.
    repo = demo_repo(nonce=True)
    report = slcc_json(repo, "build", "demo", "--repository", repository, "--cache", "local")  # a cache to clean
    app = next(s["tag"] for s in report["steps"] if s["step"] == "app")
    image_cleanup.add(*(s["tag"] for s in report["steps"]))
    # A user's image built FROM slcc's inherits its labels, and a retag of slcc's image
    # shares its content: neither is slcc's hash tag, so neither may go.
    derived, retag = f"{repository}/demo:mine", f"{repository}/other:latest"
    image_cleanup.add(derived, retag)
    subprocess.run(["docker", "build", "-q", "-t", derived, "-"], input=f"FROM {app}\nRUN echo mine > /mine\n",
                   text=True, capture_output=True, check=True)
    subprocess.run(["docker", "tag", app, retag], check=True)
    base = next(s["tag"] for s in report["steps"] if s["step"] == "base")
    container = subprocess.run(["docker", "create", base, "true"], capture_output=True, text=True,
                               check=True).stdout.strip()
    try:
        _clean_all_while_locked(repo, repository, app, base, {derived, retag})
    finally:
        subprocess.run(["docker", "rm", container], capture_output=True, check=False)


def _clean_all_while_locked(repo: Path, repository: str, app: str, base: str, users: set[str]) -> None:
    state = repo / ".slcc"
    with (state / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a running build holds it
        proc = subprocess.Popen([sys.executable, "-m", "slcc", "clean", "--all", "--repository", repository, "--json"],
                                cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        seen = ""
        while "waiting for another slcc build" not in seen and (line := proc.stderr.readline()):
            seen += line
        assert "waiting for another slcc build" in seen
        assert app in local_tags(repository)  # nothing removed while the build runs
        fcntl.flock(lock, fcntl.LOCK_UN)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    items = json.loads(out)["items"]
    assert local_tags(repository) == users | {base}  # base: a container uses it
    assert next(i["result"] for i in items if i["name"] == base) == "in-use"
    assert {i["kind"] for i in items} >= {"image", "run", "cache"}
    assert not (state / "cache" / "demo").exists() or not any((state / "cache" / "demo").iterdir())


@pytest.fixture
def gc_registry(engine: object, tmp_path: Path) -> Any:
    """A registry of this test's own (delete enabled), so its garbage collection touches no other test."""
    binary = _registry_binary()
    assert binary
    reg = LocalRegistry(binary, tmp_path / "registry")
    reg.start()
    yield reg
    reg.stop()


def blob_count(reg: LocalRegistry) -> int:
    blobs = reg.storage / "docker" / "registry" / "v2" / "blobs"
    return sum(1 for p in blobs.rglob("data") if p.is_file())


def test_clean_registry_then_garbage_collect_frees_blobs_and_current_images_pull(
    tmp_path: Path, base_image: str, gc_registry: LocalRegistry, image_cleanup: ImageCleanup,
) -> None:
    repo = make_repo(tmp_path / "repo")
    name = f"slcct{uuid.uuid4().hex[:8]}"
    repository = f"{gc_registry.host}/{name}"
    tags = set()
    for n in (1, 2, 3):
        write_files(repo, {"src/main.txt": f"main v{n}\n"})
        report = slcc_json(repo, "build", "demo", "--push", "--repository", repository, "--progress", "quiet")
        tags |= {s["tag"] for s in report["steps"]}
    image_cleanup.add(*tags)
    current = {s["tag"] for s in slcc_json(repo, "hash", "demo", "--repository", repository)}

    def short(tag: str) -> str:
        return tag.rsplit(":", 1)[1]

    assert {short(t) for t in tags} <= set(gc_registry.tags(f"{name}/demo"))

    cleaned = slcc_json(repo, "clean", "--registry", "--keep", "1", "--repository", repository)
    deleted = {i["name"] for i in cleaned["items"] if i["kind"] == "registry-image" and i["result"] == "removed"}
    assert deleted == tags - current and len(deleted) == 2
    assert any("garbage" in note for note in cleaned["notes"])
    remaining = set(gc_registry.tags(f"{name}/demo"))
    assert {short(t) for t in current} <= remaining and not {short(t) for t in deleted} & remaining
    assert {"cache-app", "cache-base"} <= remaining  # the build cache is not an image

    before = blob_count(gc_registry)
    gc_registry.stop()
    subprocess.run([gc_registry.binary, "garbage-collect", str(gc_registry.config)], capture_output=True, check=True)
    gc_registry.start()
    assert blob_count(gc_registry) < before

    subprocess.run(["docker", "image", "rm", *current], capture_output=True, check=True)
    for tag in current:
        subprocess.run(["docker", "pull", "-q", tag], capture_output=True, check=True, timeout=120)


def test_clean_killed_midway_leaves_a_store_the_next_build_and_clean_accept(
    repo: Path, repository: str, image_cleanup: ImageCleanup,
) -> None:
    for n in (1, 2, 3):
        write_files(repo, {"src/main.txt": f"main v{n}\n"})
        image_cleanup.add(*(s["tag"] for s in slcc_json(repo, "build", "demo", "--repository", repository)["steps"]))
    with subprocess.Popen([sys.executable, "-m", "slcc", "clean", "--all", "--repository", repository],
                          cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # kill -9 once the first removal has started, wherever that is
        assert line.startswith("removing "), line
        proc.kill()

    rebuilt = slcc_json(repo, "build", "demo", "--repository", repository)
    goal = next(s for s in rebuilt["steps"] if s["step"] == "app")
    assert goal["status"] in ("built", "fresh-local") and goal["tag"] in local_tags(repository)
    assert slcc_json(repo, "build", "demo", "--repository", repository)["baked"] is False
    assert slcc_json(repo, "du", "--repository", repository)["total_bytes"] > 0
    done = slcc_json(repo, "clean", "--keep", "1", "--repository", repository)
    assert all(i["result"] in (None, "removed", "gone") for i in done["items"])
    trash = repo / ".slcc" / ".trash"
    assert not trash.exists() or not any(trash.iterdir())


def test_clean_removes_stale_git_checkouts_and_contexts_but_not_what_the_tree_or_lock_needs(
    tmp_path: Path, demo_repo: DemoRepoFactory, repository: str, image_cleanup: ImageCleanup,
) -> None:
    """Three commits built in scope main, a base step with a materialized context that changes each
    time, and slcc.lock pinning the first commit: clean --keep 1 keeps that one and the current."""
    source = git_source_repo(tmp_path / "client-src")
    toml = git_mapping_toml(str(source)).replace("[steps.base]\n", '[steps.base]\nfiles = { "extra.txt" = "../../x.txt" }\n')
    repo = demo_repo({"flavors/demo/flavor.toml": toml, "src/main.txt": None})
    env = ("--repository", repository, "--scope", "main")
    commits = []
    for n in (1, 2, 3):
        if n > 1:
            (source / "main.txt").write_text(f"main v{n}\n")
            git(source, "commit", "-qam", f"v{n}")
        commits.append(git(source, "rev-parse", "HEAD"))
        write_files(repo, {"x.txt": f"extra v{n}\n"})
        image_cleanup.add(*(s["tag"] for s in slcc_json(repo, "build", "demo", *env, "--progress", "quiet")["steps"]))
    assert run_slcc(repo, "lock", "--repository", env[1]).returncode == 0  # pins tag v1: the first commit
    checkouts = repo / ".slcc" / "git"
    contexts = sorted((repo / ".slcc/contexts/demo").iterdir())
    assert all((checkouts / c / "main.txt").is_file() for c in commits) and len(contexts) == 3

    usage = slcc_json(repo, "du", *env)
    assert usage["git_checkouts"] == 3 and usage["git_bytes"] > 0
    dry = slcc_json(repo, "clean", "--keep", "1", "--dry-run", *env)
    would = {i["name"] for i in dry["items"] if i["remove"] and i["kind"] in ("checkout", "context")}
    current_context = next(i["name"] for i in dry["items"] if i["kind"] == "context" and i["current"])
    assert would == {str(checkouts / commits[1])} | {str(c) for c in contexts} - {current_context}
    assert len(would) == 3 and all(Path(name).is_dir() for name in would)  # a dry run removes nothing

    done = slcc_json(repo, "clean", "--keep", "1", *env)
    assert {i["name"] for i in done["items"] if i["result"] == "removed" and i["kind"] in ("checkout", "context")} == would
    assert sorted(p.name for p in checkouts.iterdir() if p.is_dir()) == sorted([commits[0], commits[2]])
    assert not (checkouts / f"{commits[1]}.tree").exists()
    assert [str(p) for p in (repo / ".slcc/contexts/demo").iterdir()] == [current_context]
    assert slcc_json(repo, "build", "demo", *env)["baked"] is False  # the current tree lost nothing
