"""Registries that need a login, and what --push / `slcc push` promise, on the real engine.

A private distribution registry with htpasswd (bcrypt) auth on 127.0.0.1; logins go into a
DOCKER_CONFIG of the test's own, so the machine's docker config is never touched.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from tests.conftest import ImageCleanup, LocalRegistry, _registry_binary
from tests.helpers import make_repo, run_slcc, write_files

USER, PASSWORD = "alice", f"pw-{uuid.uuid4().hex}"


class AuthRegistry(LocalRegistry):
    """The conftest registry with htpasswd auth added to its config."""

    def __init__(self, binary: str, workdir: Path) -> None:
        super().__init__(binary, workdir)
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(f"{USER}:{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()}\n")
        self.config.write_text(self.config.read_text() + f"auth:\n  htpasswd:\n    realm: slcc-test\n    path: {htpasswd}\n")

    def tags(self, repo: str) -> list[str]:
        out = subprocess.run(["curl", "-s", "-u", f"{USER}:{PASSWORD}", f"{self.url}/v2/{repo}/tags/list"],
                             capture_output=True, text=True, check=True).stdout
        return list(json.loads(out).get("tags") or [])


@pytest.fixture(scope="module")
def auth_registry(engine: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    binary = _registry_binary()
    assert binary, "docker-registry is installed by make engine"
    reg = AuthRegistry(binary, tmp_path_factory.mktemp("auth-registry"))
    reg.start()
    yield reg
    reg.stop()


@pytest.fixture
def logged_out(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "docker-empty").mkdir()
    return {"DOCKER_CONFIG": str(tmp_path / "docker-empty")}


@pytest.fixture
def logged_in(tmp_path: Path, auth_registry: AuthRegistry) -> dict[str, str]:
    env = {"DOCKER_CONFIG": str(tmp_path / "docker-login")}
    subprocess.run(["docker", "login", "-u", USER, "--password-stdin", auth_registry.host], input=PASSWORD,
                   text=True, capture_output=True, check=True, env={**os.environ, **env})
    return env


def slcc(repo: Path, env: dict[str, str], *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    proc = run_slcc(repo, *args, env=env)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("slcc: error:")]


def test_login_needed_then_push_and_slcc_push_work(
    tmp_path: Path, base_image: str, auth_registry: AuthRegistry, logged_out: dict[str, str],
    logged_in: dict[str, str], image_cleanup: ImageCleanup,
) -> None:
    repo = make_repo(tmp_path / "repo")
    name = f"slcct{uuid.uuid4().hex[:8]}"
    repository = f"{auth_registry.host}/{name}"
    outputs: list[str] = []

    def build(env: dict[str, str], *args: str, expect: int = 0) -> dict[str, Any]:
        proc = slcc(repo, env, "build", "demo", "--json", "--repository", repository, *args, expect=expect)
        outputs.append(proc.stdout + proc.stderr)
        report = json.loads(proc.stdout) if proc.stdout.strip() else {"steps": []}
        image_cleanup.add(*(s["tag"] for s in report["steps"]))
        report["proc"] = proc
        return report

    # No login: --push fails at once with one line and builds nothing; `slcc push` too.
    refused = build(logged_out, "--push", expect=1)["proc"]
    assert error_lines(refused) == [refused.stderr.strip()]
    assert "needs a login" in refused.stderr and f"docker login {auth_registry.host}" in refused.stderr
    refused_push = slcc(repo, logged_out, "push", "demo", "--repository", repository, expect=1)
    assert error_lines(refused_push) == [refused_push.stderr.strip()]
    outputs.append(refused_push.stdout + refused_push.stderr)

    # Logged in: the build uses the registry cache and pushes every step.
    pushed = build(logged_in, "--push")
    assert {s["step"]: s["status"] for s in pushed["steps"]} == {"base": "built", "app": "built"}
    tags = set(auth_registry.tags(f"{name}/demo"))
    assert {s["tag"].rsplit(":", 1)[1] for s in pushed["steps"]} <= tags
    assert {"cache-base", "cache-app"} <= tags

    # A local-only change, then `slcc push` pushes exactly the image the registry lacks.
    write_files(repo, {"src/main.txt": "main v2\n"})
    local = build(logged_in)
    app_tag = next(s["tag"] for s in local["steps"] if s["step"] == "app")
    assert app_tag.rsplit(":", 1)[1] not in auth_registry.tags(f"{name}/demo")
    result = slcc(repo, logged_in, "push", "demo", "--json", "--repository", repository)
    outputs.append(result.stdout + result.stderr)
    statuses = {r["step"]: r["status"] for r in json.loads(result.stdout)}
    assert statuses == {"base": "present", "app": "pushed"}
    assert app_tag.rsplit(":", 1)[1] in auth_registry.tags(f"{name}/demo")

    # A wrong password in the config: "not authorised", not "unavailable"; --push fails.
    wrong = tmp_path / "docker-wrong"
    wrong.mkdir()
    bad = base64.b64encode(f"{USER}:not-the-password".encode()).decode()
    (wrong / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {"auth": bad}}}))
    write_files(repo, {"src/main.txt": "main v3\n"})
    denied = build({"DOCKER_CONFIG": str(wrong)}, "--push", expect=1)["proc"]
    assert error_lines(denied) == [denied.stderr.strip()]
    assert "not authorised" in denied.stderr and "alice" in denied.stderr and "unavailable" not in denied.stderr
    plain = build({"DOCKER_CONFIG": str(wrong)})  # without --push: a warning, a local build
    assert "not authorised" in plain["proc"].stderr and plain["ok"] is True

    _assert_no_secret(repo, outputs)


def _assert_no_secret(repo: Path, outputs: list[str]) -> None:
    secrets = [PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()]
    for text in outputs:
        assert not any(s in text for s in secrets)
    files = [p for p in (repo / ".slcc").rglob("*") if p.is_file()] + [p for p in (repo / "bake").rglob("*") if p.is_file()]
    assert any(p.name == "build.log" for p in files) and any(p.name == "report.json" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not any(s.encode() in data for s in secrets), path


def test_push_with_registry_down_fails_and_slcc_push_catches_up(
    tmp_path: Path, base_image: str, registry: LocalRegistry, image_cleanup: ImageCleanup,
) -> None:
    repo = make_repo(tmp_path / "repo")
    name = f"slcct{uuid.uuid4().hex[:8]}"
    repository = f"{registry.host}/{name}"
    with registry.down():
        proc = slcc(repo, {}, "build", "demo", "--json", "--push", "--repository", repository, expect=1)
    report = json.loads(proc.stdout)
    tags = {s["step"]: s["tag"] for s in report["steps"]}
    image_cleanup.add(*tags.values())
    assert {s["status"] for s in report["steps"]} == {"built"}
    assert error_lines(proc) and "nothing pushed" in error_lines(proc)[0] and "kept locally" in proc.stderr
    for tag in tags.values():  # the built images stay in the local store
        subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=True)
    assert registry.tags(f"{name}/demo") == []

    # Back up: a no-op build --push pushes every step the registry lacks, not only the goal.
    again = slcc(repo, {}, "build", "demo", "--json", "--push", "--repository", repository)
    assert json.loads(again.stdout)["baked"] is False
    assert {t.rsplit(":", 1)[1] for t in tags.values()} <= set(registry.tags(f"{name}/demo"))
    assert set(json.loads(again.stdout)["pushed"]) == set(tags.values())


HELPER = '''#!{python}
"""A docker credential helper keeping logins in a JSON file: docker's helper protocol."""
import json, pathlib, sys
store = pathlib.Path({store!r})
data = json.loads(store.read_text()) if store.exists() else {{}}
action, text = sys.argv[1], sys.stdin.read().strip()
if action == "store":
    entry = json.loads(text)
    data[entry["ServerURL"]] = {{"Username": entry["Username"], "Secret": entry["Secret"]}}
    store.write_text(json.dumps(data))
elif action == "get":
    if text not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": text, **data[text]}}))
elif action == "erase":
    data.pop(text, None)
    store.write_text(json.dumps(data))
elif action == "list":
    print(json.dumps({{k: v["Username"] for k, v in data.items()}}))
'''


def test_docker_login_through_a_credential_helper_serves_slcc_too(
    tmp_path: Path, base_image: str, auth_registry: AuthRegistry, image_cleanup: ImageCleanup,
) -> None:
    """`docker login` stores through credsStore's helper; slcc asks the same helper, as buildx does."""
    bin_dir, config = tmp_path / "bin", tmp_path / "docker-helper"
    bin_dir.mkdir()
    config.mkdir()
    helper = bin_dir / "docker-credential-slcctest"
    helper.write_text(HELPER.format(python=sys.executable, store=str(tmp_path / "helper-store.json")))
    helper.chmod(0o755)
    (config / "config.json").write_text(json.dumps({"credsStore": "slcctest"}))
    env = {"DOCKER_CONFIG": str(config), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["docker", "login", "-u", USER, "--password-stdin", auth_registry.host], input=PASSWORD,
                   text=True, capture_output=True, check=True, env={**os.environ, **env})
    assert PASSWORD not in (config / "config.json").read_text()  # the helper holds it, not the config

    repo = make_repo(tmp_path / "repo")
    name = f"slcct{uuid.uuid4().hex[:8]}"
    proc = slcc(repo, env, "build", "demo", "--json", "--push", "--repository", f"{auth_registry.host}/{name}")
    report = json.loads(proc.stdout)
    image_cleanup.add(*(s["tag"] for s in report["steps"]))
    assert {s["tag"].rsplit(":", 1)[1] for s in report["steps"]} <= set(auth_registry.tags(f"{name}/demo"))
    assert PASSWORD not in proc.stdout + proc.stderr
