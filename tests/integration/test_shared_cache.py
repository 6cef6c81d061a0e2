"""A second, empty Docker daemon that shares only the registry reuses the registry cache."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ImageCleanup, LocalRegistry
from tests.helpers import make_repo, run_slcc

CONTAINERD_SOCK = "/run/containerd/containerd.sock"


@pytest.fixture
def second_daemon(tmp_path_factory: pytest.TempPathFactory, engine: object) -> Iterator[str]:
    """dockerd with its own data root, exec root, socket and containerd namespace; returns DOCKER_HOST."""
    if not Path(CONTAINERD_SOCK).exists() or shutil.which("dockerd") is None:
        pytest.fail("a second daemon needs dockerd and containerd at " + CONTAINERD_SOCK)
    # Short paths: unix socket paths are limited to 108 bytes.
    root = Path(f"/tmp/slcc-d2-{uuid.uuid4().hex[:6]}")
    root.mkdir()
    name = root.name
    (root / "daemon.json").write_text(json.dumps({"features": {"containerd-snapshotter": True}}))
    sock = root / "docker.sock"
    # Its own bridge: `--bridge=none` would make dockerd delete the first daemon's docker0.
    bridge = f"slcc{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", "172.31.254.1/24", "dev", bridge], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    log = (root / "dockerd.log").open("wb")
    proc = subprocess.Popen(
        ["dockerd", "--config-file", str(root / "daemon.json"), "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "docker.pid"), "-H", f"unix://{sock}",
         f"--containerd={CONTAINERD_SOCK}", f"--containerd-namespace={name}",
         f"--containerd-plugins-namespace={name}-plugins", f"--bridge={bridge}", "--iptables=false",
         "--ip6tables=false"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    host = f"unix://{sock}"
    env = {**os.environ, "DOCKER_HOST": host}
    deadline = time.monotonic() + 60
    while subprocess.run(["docker", "info"], env=env, capture_output=True, check=False).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"second dockerd did not start; log {root / 'dockerd.log'}")
        time.sleep(0.5)
    try:
        yield host
    finally:
        subprocess.run(["docker", "system", "prune", "-af"], env=env, capture_output=True, check=False)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()
        subprocess.run(["ip", "link", "delete", bridge], check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_empty_daemon_builds_from_registry_cache_without_running_any_run(
    tmp_path: Path, base_image: str, registry: LocalRegistry, image_cleanup: ImageCleanup, second_daemon: str
) -> None:
    # The empty daemon cannot pull from Docker Hub, so the base image comes from the registry too.
    base_ref = registry.ref("busybox", "1")
    subprocess.run(["docker", "tag", base_image, base_ref], check=True)
    subprocess.run(["docker", "push", "--quiet", base_ref], check=True, capture_output=True)
    image_cleanup.add(base_ref)
    # Every RUN writes a random id, so a RUN that runs again cannot produce the same layer.
    repo = make_repo(tmp_path / "repo", {
        "flavors/demo/base/Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY hello.txt /hello.txt\n"
        "RUN cat /proc/sys/kernel/random/uuid > /base-id\n",
        "flavors/demo/app/Dockerfile": "FROM base\nCOPY --from=src . /src\nRUN cat /proc/sys/kernel/random/uuid > /app-id\n",
    })
    flavor_toml = repo / "flavors/demo/flavor.toml"
    flavor_toml.write_text(flavor_toml.read_text().replace(base_image, base_ref))
    repository = f"{registry.host}/slcct{uuid.uuid4().hex[:8]}"

    first = run_slcc(repo, "build", "demo", "--json", "--push", "--repository", repository)
    assert first.returncode == 0, first.stderr
    image_cleanup.add(*(s["tag"] for s in json.loads(first.stdout)["steps"]))

    # Same flavor, other daemon, forced to build every step: identical layers prove that every
    # layer came from the registry cache.
    second = run_slcc(repo, "build", "demo", "--json", "--force-rebuild", "--repository", repository,
                      env={"DOCKER_HOST": second_daemon})
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert {s["status"] for s in report["steps"]} == {"built"}
    for step in report["steps"]:
        assert layers(step["tag"], second_daemon) == layers(step["tag"], None), step["step"]


def layers(tag: str, docker_host: str | None) -> list[str]:
    env = {**os.environ, **({"DOCKER_HOST": docker_host} if docker_host else {})}
    out = subprocess.run(["docker", "image", "inspect", tag, "--format", "{{json .RootFS.Layers}}"],
                         env=env, capture_output=True, text=True, check=True).stdout
    return list(json.loads(out))
