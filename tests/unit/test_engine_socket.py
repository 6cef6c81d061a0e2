"""The no-op's image inspects over the Engine API socket: all at once, answers matched to tags
(step tags and their hash labels; external images and their digests).

A small daemon stand-in on a unix socket answers ``GET /images/TAG/json``. Parallelism is
shown by a barrier the handlers wait on together (requests sent one after the other could
never all arrive at it), not by timing.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from slcc.engine import docker, image_digests
from slcc.errors import EngineError, InputError

Answer = tuple[int, dict[str, object]]


class FakeDaemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, answer: Callable[[str], Answer | None]) -> None:
        self.answer = answer
        self.lock = threading.Lock()
        self.open = 0
        self.most_open = 0
        self.paths: list[str] = []
        super().__init__(path, _Handler)


class _Handler(socketserver.StreamRequestHandler):
    server: FakeDaemon

    def handle(self) -> None:
        server = self.server
        with server.lock:
            server.open += 1
            server.most_open = max(server.most_open, server.open)
        try:
            path = self.rfile.readline().split()[1].decode()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            with server.lock:
                server.paths.append(path)
            answer = server.answer(path)
            if answer is None:
                self.rfile.read()  # never answer: wait until the client gives up
                return
            status, doc = answer
            body = json.dumps(doc).encode()
            self.wfile.write(b"HTTP/1.0 %d X\r\nContent-Type: application/json\r\n\r\n%s" % (status, body))
        finally:
            with server.lock:
                server.open -= 1


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[str], Answer | None]], FakeDaemon]]:
    servers: list[FakeDaemon] = []

    def start(answer: Callable[[str], Answer | None]) -> FakeDaemon:
        path = str(tmp_path / "docker.sock")
        server = FakeDaemon(path, answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def tag_of(path: str) -> str:
    return path.removeprefix("/images/").removesuffix("/json")


def labelled(path: str) -> Answer:
    """Tags ending in 'gone' are absent; others carry their own tag as the hash label, 'bare' none."""
    tag = tag_of(path)
    if tag.endswith("gone"):
        return 404, {"message": "No such image"}
    labels = None if tag.endswith("bare") else {docker.HASH_LABEL: tag}
    return 200, {"Config": {"Labels": labels}}


def test_each_answer_goes_to_its_tag(daemon: Callable[..., FakeDaemon]) -> None:
    daemon(labelled)
    tags = [f"slcc/f:s{i}-{kind}" for i in range(40) for kind in ("x", "gone", "bare")]
    found = docker.local_images(tags)
    assert found == {t: (None if t.endswith("bare") else t) for t in tags if not t.endswith("gone")}


def test_inspects_run_at_once(daemon: Callable[..., FakeDaemon]) -> None:
    together = threading.Barrier(8, timeout=20)

    def answer(path: str) -> Answer:
        try:
            together.wait()  # only passes when all 8 requests are in flight at the same time
        except threading.BrokenBarrierError:
            return 500, {"message": "requests came one by one"}
        return labelled(path)

    daemon(answer)
    tags = [f"slcc/f:s{i}-x" for i in range(8)]
    assert docker.local_images(tags) == {t: t for t in tags}


def test_at_most_parallel_requests_in_flight(daemon: Callable[..., FakeDaemon]) -> None:
    wave = threading.Barrier(docker.PARALLEL_REQUESTS, timeout=20)

    def answer(path: str) -> Answer:
        wave.wait()  # answers go out a full window at a time: 16 in flight, again and again
        return labelled(path)

    server = daemon(answer)
    tags = [f"slcc/f:s{i}-x" for i in range(3 * docker.PARALLEL_REQUESTS)]
    assert docker.local_images(tags) == {t: t for t in tags}
    assert server.most_open <= docker.PARALLEL_REQUESTS
    assert sorted(tag_of(p) for p in server.paths) == sorted(tags)


@pytest.fixture
def client_sockets(monkeypatch: pytest.MonkeyPatch) -> list[socket.socket]:
    """Every socket the client opens (the fake daemon's own sockets are in this process too)."""
    opened: list[socket.socket] = []

    def make(*args: int) -> socket.socket:
        sock = socket.socket(*args)
        opened.append(sock)
        return sock

    monkeypatch.setattr(docker, "socket", SimpleNamespace(socket=make, AF_UNIX=socket.AF_UNIX,
                                                          SOCK_STREAM=socket.SOCK_STREAM))
    return opened


def test_a_daemon_error_is_raised_and_no_socket_leaks(daemon: Callable[..., FakeDaemon],
                                                      client_sockets: list[socket.socket]) -> None:
    daemon(lambda path: (500, {"message": "boom"}) if path.endswith("s3-x/json") else labelled(path))
    with pytest.raises(OSError, match="HTTP 500"):
        docker._inspect_labels([f"slcc/f:s{i}-x" for i in range(6)])
    assert len(client_sockets) >= 4
    assert all(s.fileno() == -1 for s in client_sockets)  # closed


def test_a_silent_daemon_times_out_without_leaking(daemon: Callable[..., FakeDaemon],
                                                  client_sockets: list[socket.socket]) -> None:
    daemon(lambda path: None if path.endswith("s1-x/json") else labelled(path))
    with pytest.raises(TimeoutError):
        docker._inspect_labels([f"slcc/f:s{i}-x" for i in range(4)], timeout=0.5)
    assert len(client_sockets) == 4
    assert all(s.fileno() == -1 for s in client_sockets)


def test_no_daemon_is_an_engine_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'missing.sock'}")
    with pytest.raises(EngineError, match="cannot reach the Docker daemon"):
        docker.local_images(["slcc/f:s-x"])


DIGEST_OF = {name: "sha256:" + f"{i:x}" * 64 for i, name in enumerate(["base:1", "tool:2", "other:3"], 1)}


def store(path: str) -> Answer:
    """The daemon's image store: base, tool and other are there (their Id is their digest)."""
    name = urllib.parse.unquote(tag_of(path))
    if name == "odd:1":
        return 200, {"Id": "not-a-digest"}
    return (200, {"Id": DIGEST_OF[name]}) if name in DIGEST_OF else (404, {"message": "No such image"})


def test_external_image_digests_are_asked_at_once(daemon: Callable[..., FakeDaemon]) -> None:
    together = threading.Barrier(3, timeout=20)

    def answer(path: str) -> Answer:
        together.wait()
        return store(path)

    daemon(answer)
    assert image_digests.local_digests(["base:1", "tool:2", "missing:9"]) == {
        "base:1": DIGEST_OF["base:1"], "tool:2": DIGEST_OF["tool:2"], "missing:9": None,
    }


def test_external_image_faults(daemon: Callable[..., FakeDaemon]) -> None:
    daemon(store)
    assert image_digests.image_digests(["other:3", "base:1"], warn=lambda _m: None) == {
        "other:3": DIGEST_OF["other:3"], "base:1": DIGEST_OF["base:1"],
    }
    with pytest.raises(InputError, match="image missing:9 is not in the local image store"):
        image_digests.image_digests(["base:1", "missing:9"], warn=lambda _m: None)
    with pytest.raises(EngineError, match="id of unexpected form"):
        image_digests.local_digests(["odd:1"])
