"""Shared pytest infrastructure for tests that need the real engine.

Fixtures
--------
engine            session: checks ``docker info`` + ``docker buildx version``; skips the test when they
                  do not answer, fails it instead when ``CI=true`` or ``--require-engine``.
base_image        session: ``slcc-test/busybox:1`` (built offline by slcc/resources/base-images.sh).
registry          session: a private ``docker-registry serve`` on a free 127.0.0.1 port with temp storage.
registry_outage   function: stops the session registry for the test, restarts it afterwards.
image_cleanup     session: register refs (``.add(ref)``) or label images with ``.label``/``.labels``;
                  everything is removed at session end.
test_session_id   session: short random id for tags, repository names and labels.

Any test that uses one of the engine fixtures (directly or indirectly) gets the ``engine`` marker, and a
test marked ``@pytest.mark.engine`` gets the engine check even without requesting the fixture.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = REPO_ROOT / "slcc" / "resources"
BASE_IMAGE = "slcc-test/busybox:1"
SESSION_LABEL = "org.slcc.test-session"
ENGINE_FIXTURES = frozenset({"engine", "base_image", "registry", "registry_outage", "image_cleanup"})
ENGINE_HINT = "start it with `make engine` (bash slcc/resources/engine.sh up); see docs/engine.md"


# --------------------------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-engine",
        action="store_true",
        default=False,
        help="fail (instead of skip) engine tests when docker/buildx/registry are unavailable "
        "(implied by CI=true)",
    )


def _engine_required(config: pytest.Config) -> bool:
    ci = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}
    return ci or bool(config.getoption("--require-engine"))


def _unavailable(config: pytest.Config, reason: str) -> None:
    if _engine_required(config):
        pytest.fail(f"engine required (CI=true or --require-engine) but unavailable: {reason}", pytrace=False)
    pytest.skip(f"engine unavailable: {reason}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & ENGINE_FIXTURES and item.get_closest_marker("engine") is None:
            item.add_marker(pytest.mark.engine)


@pytest.fixture(autouse=True)
def _engine_marker_check(request: pytest.FixtureRequest) -> None:
    """A test marked ``engine`` that does not request the fixture still gets the check."""
    if request.node.get_closest_marker("engine") is not None and "engine" not in request.fixturenames:
        request.getfixturevalue("engine")


# --------------------------------------------------------------------------------------------- helpers


def run(
    args: list[str], *, timeout: float = 120, check: bool = True, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run a command with captured text output; on failure raise with stdout/stderr in the message."""
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(args)}\n"
            f"--- stdout:\n{proc.stdout[-4000:]}\n--- stderr:\n{proc.stderr[-4000:]}"
        )
    return proc


def _probe(args: list[str], timeout: float) -> str | None:
    """None when the command succeeds, else a one-line reason."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return f"`{args[0]}` not found in PATH"
    except subprocess.TimeoutExpired:
        return f"`{' '.join(args)}` timed out after {timeout:.0f}s"
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip().splitlines()
        return f"`{' '.join(args)}` failed: {err[-1] if err else f'exit {proc.returncode}'}"
    return None


def _http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except (urllib.error.URLError, OSError):
        return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------- engine


@dataclass(frozen=True)
class Engine:
    server_version: str
    buildx_version: str


@pytest.fixture(scope="session")
def engine(pytestconfig: pytest.Config) -> Engine:
    for args, timeout in ((["docker", "info"], 30.0), (["docker", "buildx", "version"], 15.0)):
        reason = _probe(args, timeout)
        if reason is not None:
            _unavailable(pytestconfig, f"{reason}; {ENGINE_HINT}")
    server = run(["docker", "version", "--format", "{{.Server.Version}}"], timeout=30).stdout.strip()
    buildx = run(["docker", "buildx", "version"], timeout=15).stdout.strip()
    return Engine(server_version=server, buildx_version=buildx)


@pytest.fixture(scope="session")
def test_session_id() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def base_image(engine: Engine) -> str:
    if _probe(["docker", "image", "inspect", BASE_IMAGE], 30) is not None:
        proc = run(["bash", str(RESOURCES / "base-images.sh"), "busybox"], timeout=600, check=False)
        if proc.returncode != 0:
            pytest.fail(
                f"could not create {BASE_IMAGE} with base-images.sh busybox:\n{proc.stdout}\n{proc.stderr}",
                pytrace=False,
            )
    return BASE_IMAGE


# --------------------------------------------------------------------------------------------- images


@dataclass
class ImageCleanup:
    """Collects images to delete at session end: registered refs plus everything labelled
    ``org.slcc.test-session=<session id>``."""

    session_id: str
    refs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``key=value``, e.g. for ``--label``/``labels`` or ``docker image ls --filter label=...``."""
        return f"{SESSION_LABEL}={self.session_id}"

    @property
    def labels(self) -> dict[str, str]:
        return {SESSION_LABEL: self.session_id}

    def add(self, *refs: str) -> None:
        self.refs.extend(r for r in refs if r not in self.refs)

    def labelled_images(self) -> list[str]:
        out = run(
            ["docker", "image", "ls", "-q", "--no-trunc", "--filter", f"label={self.label}"],
            timeout=60,
            check=False,
        ).stdout
        return sorted(set(out.split()))

    def cleanup(self) -> None:
        targets = list(self.refs)
        with contextlib.suppress(Exception):
            targets += self.labelled_images()
        for ref in targets:  # one by one: a missing ref must not keep the others
            with contextlib.suppress(Exception):
                run(["docker", "image", "rm", "-f", ref], timeout=60, check=False)
        self.refs.clear()


@pytest.fixture(scope="session")
def image_cleanup(engine: Engine, test_session_id: str) -> Iterator[ImageCleanup]:
    cleaner = ImageCleanup(test_session_id)
    yield cleaner
    cleaner.cleanup()


# --------------------------------------------------------------------------------------------- registry


def _registry_binary() -> str | None:
    for name in ("docker-registry", "registry"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if path:
            return path
    return None


class LocalRegistry:
    """A private CNCF distribution registry for one test session (plain HTTP on loopback)."""

    def __init__(self, binary: str, workdir: Path, port: int | None = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or _free_port()
        self.storage = workdir / "storage"
        self.config = workdir / "config.yml"
        self.log = workdir / "registry.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.storage.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "version: 0.1\n"
            "log:\n  level: info\n  accesslog:\n    disabled: true\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.storage}\n"
            "  delete:\n    enabled: true\n"
            "  cache:\n    blobdescriptor: inmemory\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
            "health:\n  storagedriver:\n    enabled: false\n"
        )

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def ref(self, repo: str, tag: str) -> str:
        return f"{self.host}/{repo}:{tag}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def answers(self) -> bool:
        return _http_status(f"{self.url}/v2/") in (200, 401)

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, "serve", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"registry on {self.host} did not come up; log {self.log}:\n{tail}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
        # make sure the port is really closed before callers test "registry down"
        deadline = time.monotonic() + timeout
        while self.answers() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextlib.contextmanager
    def down(self) -> Iterator[LocalRegistry]:
        """``with registry.down(): ...`` - registry unreachable inside, back up afterwards."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    # -- small HTTP API helpers for assertions
    def get_json(self, path: str, accept: str | None = None) -> Any:
        req = urllib.request.Request(f"{self.url}{path}")
        if accept:
            req.add_header("Accept", accept)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def tags(self, repo: str) -> list[str]:
        """Tags of ``repo``; [] when the repository does not exist."""
        try:
            data = self.get_json(f"/v2/{repo}/tags/list")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise
        return list(data.get("tags") or [])

    def catalog(self) -> list[str]:
        return list(self.get_json("/v2/_catalog").get("repositories") or [])

    def manifest(self, repo: str, ref: str) -> Any:
        accept = ", ".join(
            [
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            ]
        )
        return self.get_json(f"/v2/{repo}/manifests/{ref}", accept=accept)


@pytest.fixture(scope="session")
def registry(
    engine: Engine, pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRegistry]:
    binary = _registry_binary()
    if binary is None:
        _unavailable(pytestconfig, f"no `docker-registry` (or `registry`) binary in PATH; {ENGINE_HINT}")
        raise AssertionError("unreachable")  # for type checkers: skip/fail raise
    reg = LocalRegistry(binary, tmp_path_factory.mktemp("registry"))
    try:
        reg.start()
    except RuntimeError as e:
        _unavailable(pytestconfig, str(e))
    yield reg
    reg.stop()


@pytest.fixture
def registry_outage(registry: LocalRegistry) -> Iterator[LocalRegistry]:
    """The session registry, stopped for this test and restarted afterwards (even on failure).
    Call ``registry_outage.start()`` inside the test to bring it back early."""
    registry.stop()
    try:
        yield registry
    finally:
        registry.start()
