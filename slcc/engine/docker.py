"""The one adapter between slcc and the engine: Docker daemon, buildx bake and registries.

Everything here talks to processes or sockets; the core modules never import it. The
freshness queries are on the no-op path, so they avoid spawning the docker CLI: local
tags come from the Engine API over the unix socket, registry tags from one HTTP HEAD
per tag, in parallel. python-on-whales is used for the slower, rarer operations.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from slcc.errors import EngineError

ENGINE_HINT = "start it with `make engine` (or `bash slcc/resources/engine.sh`)"
_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


class RegistryUnavailable(EngineError):
    """The registry did not answer; callers warn and carry on without it."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def docker_socket() -> str | None:
    """The daemon's unix socket when DOCKER_HOST points at one (or is unset), else None."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return "/var/run/docker.sock"
    if host.startswith("unix://"):
        return host[len("unix://") :]
    return None


def _api_get(path: str, timeout: float = 10.0) -> object:
    sock = docker_socket()
    if sock is None:
        raise OSError("DOCKER_HOST is not a unix socket")
    conn = _UnixHTTPConnection(sock, timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise OSError(f"Engine API {path}: HTTP {response.status}: {body[:200]!r}")
    return json.loads(body)


def _cli(args: Sequence[str], timeout: float = 60.0) -> str:
    try:
        proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise EngineError("the docker CLI is not installed; " + ENGINE_HINT) from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"`docker {' '.join(args)}` did not answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        if "Cannot connect to the Docker daemon" in proc.stderr or "connect: " in proc.stderr:
            raise EngineError(f"cannot reach the Docker daemon ({detail}); {ENGINE_HINT}")
        raise EngineError(f"`docker {' '.join(args)}` failed: {detail}")
    return proc.stdout


def local_tags(repositories: Iterable[str]) -> set[str]:
    """Tags present in the daemon's image store under the given repositories."""
    repos = sorted(set(repositories))
    try:
        query = urllib.parse.quote(json.dumps({"reference": repos}))
        images = _api_get(f"/images/json?filters={query}")
    except FileNotFoundError:
        raise EngineError(f"cannot reach the Docker daemon: no socket at {docker_socket()}; {ENGINE_HINT}") from None
    except ConnectionRefusedError:
        raise EngineError(f"cannot reach the Docker daemon at {docker_socket()} (refused); {ENGINE_HINT}") from None
    except OSError:
        filters = [f"--filter=reference={r}" for r in repos]
        return set(_cli(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", *filters]).split())
    tags: set[str] = set()
    for image in images if isinstance(images, list) else []:
        tags.update(image.get("RepoTags") or [])
    return tags


def _is_loopback(host: str) -> bool:
    name = urllib.parse.urlsplit("//" + host).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_tag(tag: str) -> tuple[str, str, str]:
    """'host:5000/a/b:tag' -> ('host:5000', 'a/b', 'tag')."""
    host, _, rest = tag.partition("/")
    name, _, ref = rest.rpartition(":")
    return host, name, ref


def _registry_request(host: str, method: str, path: str, timeout: float) -> int:
    # The daemon treats 127.0.0.0/8 registries as plain HTTP; so does slcc.
    conn_cls = http.client.HTTPConnection if _is_loopback(host) else http.client.HTTPSConnection
    conn = conn_cls(host, timeout=timeout)
    try:
        conn.request(method, path, headers={"Accept": _MANIFEST_TYPES})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def registry_tags(tags: Sequence[str], timeout: float = 3.0) -> set[str]:
    """Which of ``tags`` (all in registries) exist; RegistryUnavailable when one cannot answer."""
    if not tags:
        return set()

    def probe(tag: str) -> tuple[str, int]:
        host, name, ref = _split_tag(tag)
        try:
            return tag, _registry_request(host, "HEAD", f"/v2/{name}/manifests/{ref}", timeout)
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryUnavailable(f"registry {host} is unreachable ({exc.__class__.__name__}: {exc})") from None

    with ThreadPoolExecutor(max_workers=min(16, len(tags))) as pool:
        results = list(pool.map(probe, tags))
    for tag, status in results:
        if status in (401, 403):
            raise RegistryUnavailable(f"registry {_split_tag(tag)[0]} refused access (HTTP {status}); log in first")
        if status >= 500:
            raise RegistryUnavailable(f"registry {_split_tag(tag)[0]} failed (HTTP {status})")
    return {tag for tag, status in results if status == 200}


def pull(tag: str) -> None:
    _cli(["pull", "--quiet", tag], timeout=1800)


def push(tag: str) -> None:
    _cli(["push", "--quiet", tag], timeout=1800)


# --- bake -------------------------------------------------------------------------------

VERTEX_LINE = re.compile(r"^#(\d+) \[([^\] ]+)(?: [^\]]*)?\] (.*)$")
VERTEX_ERROR = re.compile(r"^#(\d+) ERROR: (.*)$")
_STEP_LINE = re.compile(r"^#(\d+) ")


@dataclass
class BakeOutcome:
    returncode: int
    seconds: float
    durations: dict[str, float] = field(default_factory=dict)  # target -> seconds it was active
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (target, instruction, error)
    error_lines: list[str] = field(default_factory=list)  # bake's own ERROR lines
    interrupted: bool = False


class _ProgressParser:
    """Follows `--progress=plain` output: per-target activity and failing instructions."""

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = set(targets)
        # With a single target, buildx does not prefix vertex names with the target name.
        self.only = targets[0] if len(targets) == 1 else None
        self.vertex_target: dict[str, tuple[str, str]] = {}
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.failures: list[tuple[str, str, str]] = []
        self.error_lines: list[str] = []

    def feed(self, line: str, now: float) -> None:
        if match := VERTEX_LINE.match(line):
            vid, target, instruction = match.groups()
            if target not in self.targets:
                if self.only is None or target == "internal":
                    return
                target = self.only
            self.vertex_target.setdefault(vid, (target, instruction))
        elif match := VERTEX_ERROR.match(line):
            vid, error = match.groups()
            if vid in self.vertex_target:
                target, instruction = self.vertex_target[vid]
                self.failures.append((target, instruction, error))
        elif line.startswith("ERROR:"):
            self.error_lines.append(line)
        if (match := _STEP_LINE.match(line)) and match.group(1) in self.vertex_target:
            target = self.vertex_target[match.group(1)][0]
            self.first.setdefault(target, now)
            self.last[target] = now

    def durations(self) -> dict[str, float]:
        return {t: round(self.last[t] - self.first[t], 2) for t in self.first}


def fatal_failure(outcome: BakeOutcome) -> tuple[str, str, str] | None:
    """The (target, instruction, error) that failed the bake.

    Vertex errors also include harmless ones (a cache to import that does not exist yet) and
    the cancellations that follow a failure; the fatal one is what bake's last ERROR line says.
    """
    final = outcome.error_lines[-1] if outcome.error_lines else ""
    for failure in outcome.failures:
        if failure[2] and failure[2] in final:
            return failure
    for failure in outcome.failures:
        error = failure[2].lower()
        if "cancel" not in error and "cache importer" not in error and "cache import" not in error:
            return failure
    return None


def bake_command(
    file: Path, targets: Sequence[str], *, builder: str | None = None, push: bool = False,
    no_cache: bool = False, metadata_file: Path | None = None,
) -> list[str]:
    cmd = ["docker", "buildx", "bake", "-f", str(file), "--progress=plain"]
    if builder:
        cmd += ["--builder", builder]
    if push:
        cmd.append("--push")
    if no_cache:
        cmd.append("--no-cache")
    if metadata_file:
        cmd += ["--metadata-file", str(metadata_file)]
    return [*cmd, *targets]


def run_bake(
    command: Sequence[str], targets: Sequence[str], cwd: Path, log_path: Path,
    on_line: Callable[[str], None] | None = None, should_stop: Callable[[], bool] | None = None,
) -> BakeOutcome:
    """Run bake, tee its output to ``log_path``, stop it cleanly on Ctrl-C or ``should_stop``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    parser = _ProgressParser(targets)
    start = time.monotonic()
    interrupted = False
    try:
        # Own session: a terminal Ctrl-C reaches slcc only, and slcc stops bake deliberately.
        proc = subprocess.Popen(
            list(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", bufsize=1, start_new_session=True,
        )
    except FileNotFoundError:
        raise EngineError("the docker CLI is not installed; " + ENGINE_HINT) from None
    assert proc.stdout is not None
    lines = _pump(proc.stdout)
    with log_path.open("w", encoding="utf-8") as log:
        try:
            while (raw := _next_line(lines, should_stop)) is not None:
                if raw == "":  # bake is silent: time to ask should_stop
                    interrupted = should_stop is not None and should_stop()
                    if interrupted:
                        break
                    continue
                log.write(raw)
                line = raw.rstrip("\n")
                parser.feed(line, time.monotonic())
                if on_line:
                    on_line(line)
                if should_stop and should_stop():
                    interrupted = True
                    break
        except KeyboardInterrupt:
            interrupted = True
        if interrupted:
            _stop(proc)
            log.write("\n[slcc] build interrupted\n")
        proc.wait()
    return BakeOutcome(
        returncode=proc.returncode,
        seconds=round(time.monotonic() - start, 2),
        durations=parser.durations(),
        failures=parser.failures,
        error_lines=parser.error_lines,
        interrupted=interrupted,
    )


def _pump(stream: IO[str]) -> queue.Queue[str | None]:
    """Read ``stream`` on a thread, so should_stop is asked even while bake prints nothing."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for raw in stream:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=read, name="bake-output", daemon=True).start()
    return lines


def _next_line(lines: queue.Queue[str | None], should_stop: Callable[[], bool] | None) -> str | None:
    """The next output line; "" after a quiet 0.2 s when there is a should_stop to ask; None at EOF."""
    try:
        return lines.get(timeout=0.2 if should_stop else None)
    except queue.Empty:
        return ""


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGINT lets buildx cancel its solves; escalate if it does not exit."""
    for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
