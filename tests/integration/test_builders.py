"""Builders other than the local daemon's: the refusal without a registry, and a second dockerd
reached through a docker context that shares only the registry with the first."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ImageCleanup, LocalRegistry, _unavailable
from tests.helpers import make_repo, run_slcc


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def test_builder_without_registry_is_refused_in_one_line(tmp_path: Path, engine: object) -> None:
    repo = make_repo(tmp_path / "repo")
    name = f"slcct-dc-{uuid.uuid4().hex[:8]}"
    # Never bootstrapped: buildx only records it (its moby/buildkit image cannot be pulled here).
    _docker("buildx", "create", "--name", name, "--driver", "docker-container")
    try:
        proc = run_slcc(repo, "build", "demo", "--builder", name)
    finally:
        _docker("buildx", "rm", name, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("slcc: error: --builder: "), proc.stderr
    assert f"builder '{name}' (docker-container driver" in proc.stderr and "needs a registry" in proc.stderr
    assert not (repo / ".slcc").exists()  # nothing written before the input was checked

    missing = run_slcc(repo, "build", "demo", "--builder", "slcct-no-such-builder")
    assert missing.returncode == 2 and missing.stderr.startswith("slcc: error: --builder: no buildx builder")


def _free_subnet() -> str:
    used = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True, check=True).stdout
    for _ in range(50):
        third = random.randint(100, 250)
        if f"172.31.{third}." not in used:
            return f"172.31.{third}"
    raise RuntimeError("no free 172.31.x.0/24 subnet")


@pytest.fixture(scope="module")
def second_daemon(pytestconfig: pytest.Config, engine: object) -> Iterator[str]:
    """A second dockerd (own data root, containerd namespace and bridge) as docker context NAME.

    It uses the host's containerd. Its own pre-created bridge matters: a dockerd with the default
    bridge, or with --bridge=none, deletes docker0 when it starts, and the first daemon's
    containers then fail (observed).
    """
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("dockerd") is None:
        _unavailable(pytestconfig, "a second dockerd needs root, `ip` and `dockerd`")
    suffix = uuid.uuid4().hex[:6]
    name, bridge = f"slcct-d2-{suffix}", f"slcct{suffix}"
    root = Path(f"/tmp/slcct-d2-{suffix}")  # short: the socket path must stay under 108 bytes
    root.mkdir()
    (root / "daemon.json").write_text('{"features": {"containerd-snapshotter": true}}\n', encoding="utf-8")
    subnet = _free_subnet()
    for cmd in (["ip", "link", "add", bridge, "type", "bridge"], ["ip", "addr", "add", f"{subnet}.1/24", "dev", bridge],
                ["ip", "link", "set", bridge, "up"]):
        subprocess.run(cmd, check=True, capture_output=True)
    host = f"unix://{root}/docker.sock"
    with (root / "dockerd.log").open("w") as log:
        proc = subprocess.Popen(
            ["dockerd", "--config-file", str(root / "daemon.json"), "--containerd=/run/containerd/containerd.sock",
             "--containerd-namespace", name, "--containerd-plugins-namespace", f"{name}-plugins",
             "--data-root", str(root / "data"), "--exec-root", str(root / "exec"), "--pidfile", str(root / "pid"),
             "-H", host, f"--bridge={bridge}", "--iptables=false", "--ip6tables=false"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for(host, proc, root)
        _docker("context", "create", name, "--docker", f"host={host}")
        yield name
    finally:
        # Everything here was created by this fixture: its images and build cache go with it.
        _docker("--context", name, "buildx", "prune", "-a", "-f", check=False, timeout=300)
        _docker("--context", name, "image", "prune", "-a", "-f", check=False, timeout=300)
        _docker("context", "rm", "-f", name, check=False)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True)
        _remove_namespaces(name)
        with contextlib.suppress(OSError):
            shutil.rmtree(root)


def _remove_namespaces(name: str) -> None:
    """The containerd namespaces the daemon used (its own and buildx history's): leases, content, namespace."""
    def ctr(*args: str) -> str:
        return subprocess.run(["ctr", *args], capture_output=True, text=True, timeout=60, check=False).stdout

    for ns in ctr("namespaces", "ls", "-q").split():
        if ns not in (name, f"{name}_history", f"{name}-plugins"):
            continue
        for lease in ctr("-n", ns, "leases", "ls", "-q").split():
            ctr("-n", ns, "leases", "rm", lease)
        if digests := ctr("-n", ns, "content", "ls", "-q").split():
            ctr("-n", ns, "content", "rm", *digests)
        ctr("namespaces", "rm", ns)


def _wait_for(host: str, proc: subprocess.Popen[bytes], root: Path) -> None:
    for _ in range(60):
        if proc.poll() is not None:
            break
        env = {**os.environ, "DOCKER_HOST": host}
        if subprocess.run(["docker", "info"], env=env, capture_output=True, timeout=30, check=False).returncode == 0:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
    raise RuntimeError(f"second dockerd did not start: {(root / 'dockerd.log').read_text()[-2000:]}")


def test_second_daemon_builds_on_what_the_first_pushed(
    tmp_path: Path, second_daemon: str, registry: LocalRegistry, image_cleanup: ImageCleanup
) -> None:
    nonce = uuid.uuid4().hex[:10]
    repo = make_repo(tmp_path / "repo", {
        # A nonce, so no build cache of an earlier session turns RUNs into CACHED lines.
        "flavors/demo/base/Dockerfile": f"ARG BASE\nFROM ${{BASE}}\nCOPY hello.txt /hello.txt\n"
                                        f"RUN cat /hello.txt > /base.txt && echo {nonce} > /nonce\n",
    })
    repository = ["--repository", f"{registry.host}/slcct{nonce}"]
    hashes = {h["step"]: h["tag"] for h in json.loads(run_slcc(repo, "hash", "demo", "--json", *repository).stdout)}
    image_cleanup.add(*hashes.values())

    # The first daemon builds the lower step and pushes it.
    first = run_slcc(repo, "build", "demo", "--goal", "base", "--push", "--json", *repository)
    assert first.returncode == 0, first.stderr

    # The second daemon sees only the registry: base is fresh there, app is built from its
    # registry reference, and pushed (the builder keeps nothing this machine can see).
    second = run_slcc(repo, "build", "demo", "--builder", second_daemon, "--json", *repository)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert {s["step"]: s["status"] for s in report["steps"]} == {"base": "fresh-registry", "app": "built"}
    log = Path(report["log"]).read_text(encoding="utf-8")
    assert "RUN cat /src/main.txt >> /base.txt" in log and "RUN cat /hello.txt" not in log  # base's RUN never re-ran
    assert f"docker-image://{hashes['base']}" in Path(report["run_dir"], "bake.hcl").read_text(encoding="utf-8") \
        .replace("${SLCC_REPOSITORY}", f"{registry.host}/slcct{nonce}")
    on_second = _docker("--context", second_daemon, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert hashes["app"] in on_second.split()
    assert hashes["app"] not in _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()

    # Export on the second daemon: the release image comes from the registry, the tar to this machine.
    exported = run_slcc(repo, "export", "demo", "--json", *repository, env={"SLCC_BUILDER": second_daemon})
    assert exported.returncode == 0, exported.stderr
    assert Path(json.loads(exported.stdout)["archive"]).is_file()

    # The first daemon now finds everything fresh: no bake at all.
    again = json.loads(run_slcc(repo, "build", "demo", "--json", *repository).stdout)
    assert again["baked"] is False
    assert {s["step"]: s["status"] for s in again["steps"]} == {"app": "fresh-registry"}
