"""slcc serve's pure parts and its SQLite queue: signatures, push payloads, dedupe, claims, recovery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from slcc.serve import hooks
from slcc.serve.app import safe_artifact
from slcc.serve.queue import BuildQueue, SqliteDatabase
from slcc.serve.records import NewBuild
from slcc.serve.service import load_secrets

SHA1 = "a" * 40
SHA2 = "b" * 40


def test_github_signature_matches_githubs_documented_example() -> None:
    # docs.github.com "Validating webhook deliveries": secret "It's a Secret to Everybody",
    # payload "Hello, World!" gives this signature.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert hooks.github_signature("It's a Secret to Everybody", b"Hello, World!") == expected
    assert hooks.github_signature_ok("It's a Secret to Everybody", b"Hello, World!", expected)
    assert not hooks.github_signature_ok("It's a Secret to Everybody", b"Hello, World?", expected)
    assert not hooks.github_signature_ok("other", b"Hello, World!", expected)
    assert not hooks.github_signature_ok(None, b"Hello, World!", expected)
    assert not hooks.github_signature_ok("s", b"x", None)
    assert not hooks.github_signature_ok("s", b"x", "sha1=" + hmac.new(b"s", b"x", hashlib.sha1).hexdigest())


def test_tokens_and_bearer() -> None:
    assert hooks.token_ok("t0k", "t0k") and not hooks.token_ok("t0k", "t0K") and not hooks.token_ok(None, "x")
    assert not hooks.token_ok("", "")
    assert hooks.bearer("Bearer abc") == "abc" and hooks.bearer("bearer  abc ") == "abc"
    assert hooks.bearer("Basic abc") is None and hooks.bearer(None) is None and hooks.bearer("Bearer ") is None


def _payload(**fields: object) -> bytes:
    return json.dumps({"ref": "refs/heads/main", "after": SHA1, **fields}).encode()


def test_parse_push() -> None:
    assert hooks.parse_push(_payload(), ()) == hooks.Push("refs/heads/main", SHA1)
    assert hooks.parse_push(_payload(), ()).branch == "main"  # type: ignore[union-attr]
    assert isinstance(hooks.parse_push(_payload(ref="refs/tags/v1"), ()), hooks.Ignored)
    assert isinstance(hooks.parse_push(_payload(after="0" * 40), ()), hooks.Ignored)
    assert isinstance(hooks.parse_push(_payload(deleted=True), ()), hooks.Ignored)
    assert hooks.parse_push(_payload(ref="refs/heads/release/2"), ("release/*",)) == \
        hooks.Push("refs/heads/release/2", SHA1)
    ignored = hooks.parse_push(_payload(), ("release/*",))
    assert isinstance(ignored, hooks.Ignored) and "not built here" in ignored.why
    for bad in (b"not json", b"[1]", _payload(after="HEAD; rm -rf /"), json.dumps({"ref": 1}).encode()):
        with pytest.raises(hooks.PayloadError):
            hooks.parse_push(bad, ())


QueueFactory = Callable[[], BuildQueue]


@pytest.fixture
def new_queue(tmp_path: Path) -> QueueFactory:
    """A new connection to one queue database (SQLite here; the PostgreSQL tests override this fixture)."""
    return lambda: BuildQueue(SqliteDatabase(tmp_path / "serve.db"))


def _new(flavor: str = "demo", key: str = "k1", commit: str = SHA1, ref: str = "refs/heads/main") -> NewBuild:
    return NewBuild(flavor, ("app",), ref, commit, key, "github")


def test_concurrent_deliveries_of_one_push_queue_it_once(new_queue: QueueFactory) -> None:
    results: list[tuple[int, ...]] = []
    lock = threading.Lock()

    def deliver(i: int) -> None:
        result = new_queue().enqueue([_new(key="same")], delivery=f"d{i}")
        with lock:
            results.append(result.queued)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0] * 7 + [1]


def test_same_content_is_not_queued_twice_and_deliveries_are_idempotent(new_queue: QueueFactory) -> None:
    queue = new_queue()
    first = queue.enqueue([_new(), _new("other", "k9")], delivery="d1")
    assert first.queued == (1, 2)
    assert queue.enqueue([_new()], delivery="d1").duplicate_delivery
    same = queue.enqueue([_new(commit=SHA2, ref="refs/heads/feature")], delivery="d2")
    assert same.queued == () and "same content as build 1 (queued)" in same.skipped[0].why
    assert queue.delivery("d2") == same.as_json()
    assert queue.delivery("nope") is None


def test_newer_push_supersedes_a_queued_build_of_the_same_branch(new_queue: QueueFactory) -> None:
    queue = new_queue()
    [old] = queue.enqueue([_new(key="k1")]).queued
    [other_branch] = queue.enqueue([_new(key="k2", ref="refs/heads/other")]).queued
    newer = queue.enqueue([_new(key="k3", commit=SHA2)])
    assert newer.superseded == (old,)
    superseded = queue.get(old)
    assert superseded is not None and superseded.status == "cancelled" and "superseded" in (superseded.reason or "")
    assert queue.get(other_branch).status == "queued"  # type: ignore[union-attr]
    # A running build is never superseded.
    claimed = queue.claim("w")
    assert claimed is not None and claimed.id == other_branch
    assert queue.enqueue([_new(key="k4", ref="refs/heads/other")]).superseded == ()


def test_claims_are_atomic_under_concurrency(new_queue: QueueFactory) -> None:
    queue = new_queue()
    queue.enqueue([_new(key=f"k{i}", ref=f"refs/heads/b{i}") for i in range(40)])
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(name: str) -> None:
        second = new_queue()  # its own connection
        while (build := second.claim(name)) is not None:
            with lock:
                claimed.append(build.id)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == list(range(1, 41))


def test_recover_requeues_then_fails_interrupted(new_queue: QueueFactory) -> None:
    queue = new_queue()
    [build_id] = queue.enqueue([_new()]).queued
    assert queue.claim("me") is not None
    assert [b.id for b in queue.recover("someone-else", 2)] == []
    queue.recover("me", 2)
    requeued = queue.get(build_id)
    assert requeued is not None and requeued.status == "queued" and "re-queued" in (requeued.reason or "")
    assert queue.claim("me") is not None  # attempt 2
    queue.recover("me", 2)
    failed = queue.get(build_id)
    assert failed is not None and failed.status == "failed" and (failed.reason or "").startswith("failed-interrupted")


def test_cancel(new_queue: QueueFactory) -> None:
    queue = new_queue()
    a, b = queue.enqueue([_new(key="k1"), _new("other", "k2")]).queued
    assert queue.cancel(a).status == "cancelled"  # type: ignore[union-attr]
    running = queue.claim("w")
    assert running is not None and running.id == b
    after = queue.cancel(b)
    assert after is not None and after.status == "running" and queue.cancel_requested(b)
    queue.finish(b, "cancelled", "cancelled on request", None, ())
    assert queue.get(b).status == "cancelled"  # type: ignore[union-attr]
    assert queue.cancel(999) is None


def test_artifact_paths_cannot_escape(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    (root / "1").mkdir(parents=True)
    (root / "1" / "report.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("x")
    (root / "1" / "link").symlink_to(tmp_path / "secret.txt")
    assert safe_artifact(root, "1/report.json") == (root / "1" / "report.json").resolve()
    for bad in ("../secret.txt", "1/../../secret.txt", "/etc/passwd", "1/link", "1", "", "1/missing"):
        assert safe_artifact(root, bad) is None, bad


def test_secrets_from_env_or_a_private_user_config(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "SLCC_WEBHOOK_SECRET": "from-env"}
    assert load_secrets(env).webhook_secret == "from-env" and load_secrets(env).api_token is None
    config = tmp_path / ".config" / "slcc" / "serve.toml"
    config.parent.mkdir(parents=True)
    config.write_text('webhook_secret = "from-file"\napi_token = "tok"\n')
    config.chmod(0o600)
    secrets = load_secrets({"HOME": str(tmp_path)})
    assert (secrets.webhook_secret, secrets.api_token) == ("from-file", "tok")
    assert "from-file" not in repr(secrets)
    config.chmod(0o644)
    with pytest.raises(Exception, match="readable by others"):
        load_secrets({"HOME": str(tmp_path)})
    config.chmod(0o600)
    config.write_text('webhook_secrt = "typo"\n')
    with pytest.raises(Exception, match="unknown key 'webhook_secrt'"):
        load_secrets({"HOME": str(tmp_path)})


def test_other_commands_do_not_import_the_server() -> None:
    import subprocess
    import sys

    code = ("import sys, slcc.cli; bad = [m for m in ('starlette', 'uvicorn', 'psycopg', 'slcc.serve.app') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_serve_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    state = tmp_path / "state"
    for args, where in ((["--repo", str(tmp_path / "missing")], "--repo"), (["--repo", str(tmp_path), "--port", "0"],
                                                                            "--port")):
        proc = subprocess.run([sys.executable, "-m", "slcc", "serve", *args, "--state-dir", str(state)],
                              capture_output=True, text=True, check=False, timeout=60)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and where in lines[0], proc.stderr
        assert not state.exists()


def test_old_build_files_are_pruned_but_never_an_active_builds(tmp_path: Path) -> None:
    from slcc.serve.worker import prune_build_files

    for build_id in range(1, 8):
        (tmp_path / "logs").mkdir(exist_ok=True)
        (tmp_path / "logs" / f"{build_id}.log").write_text("log")
        (tmp_path / "artifacts" / str(build_id)).mkdir(parents=True)
        (tmp_path / "artifacts" / str(build_id) / "report.json").write_text("{}")
        (tmp_path / "runs" / str(build_id)).mkdir(parents=True)
    assert prune_build_files(tmp_path, keep=3, active={2}) == [1, 3, 4]
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["2.log", "5.log", "6.log", "7.log"]
    assert sorted(p.name for p in (tmp_path / "artifacts").iterdir()) == ["2", "5", "6", "7"]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["2", "5", "6", "7"]
    assert prune_build_files(tmp_path, keep=3, active={2}) == []
