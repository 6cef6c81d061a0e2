"""Smoke tests for the real engine: containerd image store, buildx bake with named target contexts,
and a registry cache export to the session's private registry."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.conftest import Engine, ImageCleanup, LocalRegistry

pytestmark = pytest.mark.engine


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, (
        f"docker {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def test_containerd_image_store_active(engine: Engine) -> None:
    status = _docker("info", "--format", "{{json .DriverStatus}}").stdout
    pairs = {k: v for k, v in json.loads(status)}
    assert pairs.get("driver-type") == "io.containerd.snapshotter.v1", (
        f"docker runs without the containerd image store (DriverStatus {pairs}); "
        'set {"features":{"containerd-snapshotter":true}} in /etc/docker/daemon.json'
    )


def test_buildx_default_builder_uses_docker_driver(engine: Engine) -> None:
    out = _docker("buildx", "inspect", "default").stdout
    assert "docker" in out and "running" in out.lower(), out


def _bake_file(tmp_path: Path, base_image: str, registry_host: str, sid: str, label: str) -> Path:
    key, value = label.split("=", 1)
    base_df = f"FROM {base_image}\\nRUN echo base-{sid} > /base.txt\\n"
    app_df = "FROM base\\nRUN cat /base.txt > /app.txt && echo app >> /app.txt\\n"
    hcl = f"""
group "default" {{
  targets = ["base", "app"]
}}

target "base" {{
  context = "."
  dockerfile-inline = "{base_df}"
  tags = ["slcc-test/smoke-base:{sid}"]
  labels = {{ "{key}" = "{value}" }}
  cache-from = ["type=registry,ref={registry_host}/smoke:cache"]
  cache-to = ["type=registry,ref={registry_host}/smoke:cache,mode=max"]
}}

target "app" {{
  context = "."
  contexts = {{ base = "target:base" }}
  dockerfile-inline = "{app_df}"
  tags = ["slcc-test/smoke-app:{sid}"]
  labels = {{ "{key}" = "{value}" }}
  cache-from = ["type=registry,ref={registry_host}/smoke:cache-app"]
  cache-to = ["type=registry,ref={registry_host}/smoke:cache-app,mode=max"]
}}
"""
    path = tmp_path / "docker-bake.hcl"
    path.write_text(hcl)
    return path


def test_bake_two_targets_with_registry_cache(
    tmp_path: Path,
    base_image: str,
    registry: LocalRegistry,
    image_cleanup: ImageCleanup,
    test_session_id: str,
) -> None:
    sid = test_session_id
    base_ref, app_ref = f"slcc-test/smoke-base:{sid}", f"slcc-test/smoke-app:{sid}"
    image_cleanup.add(base_ref, app_ref)
    bake = _bake_file(tmp_path, base_image, registry.host, sid, image_cleanup.label)

    cmd = ["buildx", "bake", "-f", str(bake), "--load", "--progress=plain"]
    first = subprocess.run(
        ["docker", *cmd], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert first.returncode == 0, f"bake failed:\n{first.stdout[-4000:]}\n{first.stderr[-4000:]}"

    # both images loaded into the local (containerd) image store, carrying the session label
    for ref in (base_ref, app_ref):
        labels = json.loads(_docker("image", "inspect", "--format", "{{json .Config.Labels}}", ref).stdout)
        assert labels.get("org.slcc.test-session") == sid
    assert _docker("run", "--rm", app_ref, "cat", "/app.txt").stdout.split() == [f"base-{sid}", "app"]

    # the registry received the cache manifests (mode=max, one per target)
    assert "cache" in registry.tags("smoke")
    assert "cache-app" in registry.tags("smoke")
    manifest = registry.manifest("smoke", "cache")
    assert manifest.get("layers") or manifest.get("manifests"), manifest

    # a second run is fully cached (local build cache; cache-from must not error now it exists)
    second = subprocess.run(
        ["docker", *cmd], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert second.returncode == 0, f"second bake failed:\n{second.stderr[-4000:]}"
    log = second.stdout + second.stderr
    assert "CACHED" in log
    assert "ERROR" not in log, log[-3000:]  # e.g. cache-from import failing now the cache exists


def test_registry_outage_and_restart(registry: LocalRegistry, registry_outage: LocalRegistry) -> None:
    assert not registry_outage.answers()
    registry_outage.start()
    assert registry.answers()
