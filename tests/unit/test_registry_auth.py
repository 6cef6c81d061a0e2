"""Registry credentials (docker client config, helpers) and the basic/bearer challenge flow.

The bearer flow runs against a small registry + token server on 127.0.0.1 (http.server):
real HTTP, no mocks of slcc's own code.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, cast

import pytest

from slcc.engine.protocol import RegistryUnauthorized
from slcc.engine.registry import RegistryClient
from slcc.engine.registry_auth import (
    Credentials,
    CredentialsError,
    RegistryAuth,
    credentials_for,
    parse_challenge,
)


def config(tmp_path: Path, data: object) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(data))
    return {"DOCKER_CONFIG": str(tmp_path), "PATH": f"{tmp_path}:{os.environ['PATH']}"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_auths_entry_by_host_and_by_url_key(tmp_path: Path) -> None:
    env = config(tmp_path, {"auths": {"reg:5000": {"auth": b64("u:p:with:colons")},
                                      "https://other.example/v1/": {"auth": b64("o:q")}}})
    assert credentials_for("reg:5000", env) == Credentials("u", "p:with:colons", source=str(tmp_path / "config.json"))
    assert credentials_for("other.example", env).username == "o"  # type: ignore[union-attr]
    assert credentials_for("nowhere:1", env) is None


def test_no_config_file_is_anonymous_and_a_broken_one_is_an_error(tmp_path: Path) -> None:
    assert credentials_for("reg:5000", {"DOCKER_CONFIG": str(tmp_path / "missing")}) is None
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CredentialsError, match=r"config\.json"):
        credentials_for("reg:5000", {"DOCKER_CONFIG": str(tmp_path)})


def test_secret_never_in_repr() -> None:
    assert "hunter2" not in repr(Credentials("u", "hunter2"))


def _helper(tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / f"docker-credential-{name}"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_cred_helpers_win_over_creds_store_and_auths(tmp_path: Path) -> None:
    # The helper reads the server address on stdin, as docker's helpers do.
    _helper(tmp_path, "one", 'read h; echo "{\\"ServerURL\\":\\"$h\\",\\"Username\\":\\"from-one-$h\\",\\"Secret\\":\\"s1\\"}"')
    _helper(tmp_path, "store", 'read h; echo "{\\"Username\\":\\"<token>\\",\\"Secret\\":\\"tok\\"}"')
    env = config(tmp_path, {"credHelpers": {"a:1": "one"}, "credsStore": "store",
                            "auths": {"a:1": {"auth": b64("x:y")}, "b:2": {"auth": b64("x:y")}}})
    assert credentials_for("a:1", env) == Credentials("from-one-a:1", "s1", source="helper docker-credential-one")
    token = credentials_for("b:2", env)
    assert token is not None and token.identity_token and token.secret == "tok"


def test_helper_not_found_and_nothing_stored(tmp_path: Path) -> None:
    _helper(tmp_path, "empty", "echo 'credentials not found in native keychain'; exit 1")
    assert credentials_for("a:1", config(tmp_path, {"credsStore": "empty"})) is None
    with pytest.raises(CredentialsError, match=r"docker-credential-absent.*not installed"):
        credentials_for("a:1", config(tmp_path, {"credsStore": "absent"}))


def test_parse_challenge() -> None:
    bearer = parse_challenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"')
    assert bearer is not None and bearer.scheme == "bearer"
    assert dict(bearer.params) == {"realm": "https://auth.example/token", "service": "reg",
                                   "scope": "repository:a/b:pull,push"}
    basic = parse_challenge('Basic realm="slcc-test"')
    assert basic is not None and basic.scheme == "basic" and basic.params["realm"] == "slcc-test"
    assert parse_challenge("") is None


class _TokenRegistry(BaseHTTPRequestHandler):
    """/token gives a token for alice:pw; /v2/ wants that token as Bearer."""

    token = "tok-123"
    seen_scopes: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/token"):
            if self.headers.get("Authorization") != "Basic " + b64("alice:pw"):
                self._reply(401)
                return
            self.seen_scopes.append(self.path)
            self._reply(200, json.dumps({"token": self.token}).encode())
            return
        self.do_HEAD()

    def do_HEAD(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            realm = f"http://127.0.0.1:{cast(tuple[str, int], self.server.server_address)[1]}/token"
            self._reply(401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="test",'
                                      f'scope="repository:a/b:pull"'})
            return
        status = 200 if self.path.endswith("/there") else 404
        self._reply(status, headers={"Docker-Content-Digest": "sha256:abc"} if status == 200 else {})


@pytest.fixture
def token_registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bearer_token_flow(token_registry: str) -> None:
    auth = RegistryAuth(token_registry, lookup=lambda host: Credentials("alice", "pw"))
    client = RegistryClient(token_registry, auth=auth)
    assert client.manifest_digest("a/b", "there") == "sha256:abc"
    assert client.manifest_digest("a/b", "gone") is None  # the cached token is sent up front
    assert len(_TokenRegistry.seen_scopes) == 1 and "service=test" in _TokenRegistry.seen_scopes[0]


def test_bearer_with_wrong_password_is_not_authorised(token_registry: str) -> None:
    auth = RegistryAuth(token_registry, lookup=lambda host: Credentials("alice", "wrong", source="cfg"))
    with pytest.raises(RegistryUnauthorized, match=r"not authorised.*'alice'") as caught:
        RegistryClient(token_registry, auth=auth).manifest_digest("a/b", "there")
    assert "wrong" not in str(caught.value)


def test_anonymous_basic_challenge_asks_for_a_login(token_registry: str) -> None:
    auth = RegistryAuth("reg:1", lookup=lambda host: None)
    assert auth.answer('Basic realm="x"', "repository:a:pull") is None


def test_an_expired_bearer_token_is_replaced(token_registry: str) -> None:
    auth = RegistryAuth(token_registry, lookup=lambda host: Credentials("alice", "pw"))
    client = RegistryClient(token_registry, auth=auth)
    assert client.manifest_digest("a/b", "there") == "sha256:abc"
    _TokenRegistry.token = "tok-after-expiry"  # the registry no longer takes the cached token
    try:
        assert client.manifest_digest("a/b", "there") == "sha256:abc"
    finally:
        _TokenRegistry.token = "tok-123"


class _SlowOnce(BaseHTTPRequestHandler):
    """Answers the first request only after the client's first timeout; the rest at once."""

    calls: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self.calls.append(self.path)
        if len(self.calls) == 1:
            time.sleep(1.0)
        self.send_response(200)
        self.send_header("Docker-Content-Digest", "sha256:def")
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_slow_registry_gets_a_second_longer_try() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        client = RegistryClient(host, timeout=0.2, auth=RegistryAuth(host, lookup=lambda h: None))
        assert client.manifest_digest("a/b", "t") == "sha256:def" and len(_SlowOnce.calls) == 2
    finally:
        server.shutdown()
        server.server_close()
