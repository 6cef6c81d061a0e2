"""The engine's I/O against real local stand-ins: a registry (http.server) answering HEAD with
200/404/401/5xx, and a bake child that ignores SIGINT (the stop must escalate)."""

from __future__ import annotations

import os
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from slcc.engine.bake_runner import run_bake
from slcc.engine.docker import registry_tags
from slcc.engine.protocol import BakeRequest, CancelToken, CommandJournal, RegistryUnauthorized, RegistryUnavailable


class _Registry(BaseHTTPRequestHandler):
    """HEAD /v2/<name>/manifests/<tag>: the status is chosen by the repository name."""

    statuses: ClassVar[dict[str, int]] = {"present": 200, "absent": 404, "locked": 401, "broken": 503}

    def do_HEAD(self) -> None:
        name = self.path.split("/")[2]
        status = self.statuses.get(name, 404)
        self.send_response(status)
        if status == 200:
            self.send_header("Docker-Content-Digest", "sha256:" + "a" * 64)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no credentials from the host
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_200_is_present_and_404_absent(registry: str) -> None:
    assert registry_tags([f"{registry}/present:t", f"{registry}/absent:t"]) == {f"{registry}/present:t"}
    assert registry_tags([]) == set()


def test_401_without_credentials_says_log_in(registry: str) -> None:
    with pytest.raises(RegistryUnauthorized, match="login"):
        registry_tags([f"{registry}/locked:t"])


def test_5xx_is_a_registry_fault(registry: str) -> None:
    with pytest.raises(RegistryUnavailable, match="503"):
        registry_tags([f"{registry}/broken:t"])


def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(RegistryUnavailable, match="unreachable"):
        registry_tags(["127.0.0.1:1/x:t"], timeout=1.0)


def test_a_bake_that_ignores_sigint_is_stopped_anyway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in `docker` that ignores SIGINT and SIGTERM: the stop escalates to SIGKILL.
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nimport signal, sys, time\n"
                    "signal.signal(signal.SIGINT, signal.SIG_IGN)\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                    "print('#1 [internal] stubborn', flush=True)\ntime.sleep(600)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    # ... and the buildx plugin slcc runs without the docker CLI (slcc.engine.buildx_binary).
    plugin = tmp_path / "cfg" / "cli-plugins" / "docker-buildx"
    plugin.parent.mkdir(parents=True)
    plugin.write_bytes(fake.read_bytes())
    plugin.chmod(fake.stat().st_mode)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    monkeypatch.setattr("slcc.engine.bake_runner._STOP_WAITS", (0.5, 0.5, 5.0))
    token = CancelToken()
    journal = CommandJournal()
    outcome = run_bake(BakeRequest(tmp_path / "bake.hcl", ("t",), tmp_path, tmp_path / "build.log"), journal,
                       lambda line: token.cancel("watch-restart"), token)
    assert outcome.cancelled_by == "watch-restart" and outcome.returncode != 0
    assert "[slcc] bake stopped (watch-restart)" in (tmp_path / "build.log").read_text(encoding="utf-8")
    assert journal.since(0)[0].argv[:2] == (str(plugin), "bake")
