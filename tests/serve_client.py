"""A running `slcc serve` for tests: a local bare git repository as SOURCE, signed deliveries, polling."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import write_files

SECRET = "test-webhook-secret-5d1f"
TOKEN = "test-api-token-93ac"
GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=slcc test", "-c", "commit.gpgsign=false"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FlavorRepo:
    """A work clone that pushes to a bare repository (the service's SOURCE)."""

    work: Path
    bare: Path

    @classmethod
    def create(cls, root: Path, files: Mapping[str, str]) -> FlavorRepo:
        work, bare = root / "work", root / "origin.git"
        write_files(work, files)
        subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
        subprocess.run(["git", "-C", str(work), "remote", "add", "origin", str(bare)], check=True)
        repo = cls(work, bare)
        repo.commit(files={}, message="initial")
        return repo

    def commit(self, files: Mapping[str, str | None], message: str = "change", branch: str = "main") -> str:
        write_files(self.work, files)
        subprocess.run([*GIT, "-C", str(self.work), "add", "-A"], check=True)
        subprocess.run([*GIT, "-C", str(self.work), "commit", "-q", "--allow-empty", "-m", message], check=True)
        subprocess.run(["git", "-C", str(self.work), "push", "-q", "origin", f"HEAD:refs/heads/{branch}"], check=True)
        return subprocess.run(["git", "-C", str(self.work), "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def push_payload(commit: str, ref: str = "refs/heads/main") -> bytes:
    return json.dumps({"ref": ref, "before": "0" * 40, "after": commit, "repository": {"name": "flavors"},
                       "pusher": {"name": "t"}}).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Service:
    source: Path
    state: Path
    port: int
    env: dict[str, str]
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self, timeout: float = 60) -> Service:
        log = self.state.parent / f"serve-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:  # the child has its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "slcc", "serve", "--repo", str(self.source), "--port", str(self.port),
                 "--state-dir", str(self.state), *self.args],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"slcc serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                if self.request("GET", "/api/builds").status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"slcc serve did not answer within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.is_file())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)  # the service process only, as `kill -9 PID` does
        self.proc.wait()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            return Response(resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()})
        finally:
            conn.close()

    def github(self, commit: str, delivery: str | None = None, secret: str = SECRET, event: str = "push",
               body: bytes | None = None, ref: str = "refs/heads/main") -> Response:
        payload = body if body is not None else push_payload(commit, ref)
        headers = {"Content-Type": "application/json", "X-GitHub-Event": event,
                   "X-GitHub-Delivery": delivery or str(uuid.uuid4()), "X-Hub-Signature-256": sign(payload, secret)}
        return self.request("POST", "/hooks/github", payload, headers)

    def build(self, build_id: int) -> dict[str, Any]:
        resp = self.request("GET", f"/api/builds/{build_id}")
        assert resp.status == 200, resp.body
        return dict(resp.json())

    def wait(self, build_id: int, statuses: tuple[str, ...] = ("succeeded", "failed", "cancelled"),
             timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            build = self.build(build_id)
            if build["status"] in statuses:
                return build
            time.sleep(0.3)
        raise AssertionError(f"build {build_id} not in {statuses} after {timeout} s: {self.build(build_id)}\n"
                             f"{self.output()[-4000:]}")
