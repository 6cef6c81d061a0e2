"""A linux/amd64 + linux/arm64 flavor on the real engine (arm64 through QEMU user emulation)."""

from __future__ import annotations

import json
import subprocess
import tarfile
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import BASE_IMAGE, RESOURCES, ImageCleanup, LocalRegistry, _unavailable
from tests.helpers import make_repo, run_slcc

PLATFORMS = '["linux/amd64", "linux/arm64"]'
FILES = {
    "flavors/mp/flavor.toml": f"""\
[flavor]
goals = ["app"]
platforms = {PLATFORMS}

[args]
BASE = "{BASE_IMAGE}"

[steps.base]
[steps.app]
depends = ["base"]
[steps.test]
depends = ["app"]
""",
    # uname runs in the build container: under emulation it says aarch64.
    "flavors/mp/base/Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN uname -m > /arch.txt\n",
    "flavors/mp/app/Dockerfile": "FROM base\nRUN echo app >> /arch.txt\n",
    "flavors/mp/test/Dockerfile": 'FROM app\nRUN test "$(head -n 1 /arch.txt)" = "$(uname -m)" && echo "ran on $(uname -m)"\n',
}
INDEX_TYPES = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
ELF_MACHINE = {"x86_64": 0x3E, "aarch64": 0xB7}


def _runs_arm64() -> bool:
    proc = subprocess.run(["docker", "run", "--rm", "--platform", "linux/arm64", BASE_IMAGE, "uname", "-m"],
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.stdout.strip() == "aarch64"


@pytest.fixture(scope="module")
def arm64(pytestconfig: pytest.Config, base_image: str) -> None:
    """QEMU emulation and a linux/arm64 variant of the busybox base image, as `make engine` sets up."""
    if not _runs_arm64():
        for script, arg in (("emulation.sh", "up"), ("base-images.sh", "busybox")):
            subprocess.run(["bash", str(RESOURCES / script), arg], capture_output=True, timeout=600, check=False)
    if not _runs_arm64():
        _unavailable(pytestconfig, f"`docker run --platform linux/arm64 {BASE_IMAGE}` does not run "
                     "(bash slcc/resources/emulation.sh up; bash slcc/resources/base-images.sh busybox)")


def _slcc(repo: Path, repository: str, *args: str) -> subprocess.CompletedProcess[str]:
    proc = run_slcc(repo, *args, "--repository", repository)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _registry_platforms(registry: LocalRegistry, tag: str) -> set[str]:
    name, _, ref = tag.partition("/")[2].rpartition(":")
    request = urllib.request.Request(f"{registry.url}/v2/{name}/manifests/{ref}", headers={"Accept": INDEX_TYPES})
    with urllib.request.urlopen(request, timeout=30) as response:
        index = json.load(response)
    return {f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index.get("manifests", [])
            if m.get("platform", {}).get("os") != "unknown"}


def _elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF"
    return int.from_bytes(data[18:20], "little")


def test_two_platform_flavor_builds_pushes_exports_and_tests_both(
    tmp_path: Path, arm64: None, registry: LocalRegistry, image_cleanup: ImageCleanup
) -> None:
    nonce = uuid.uuid4().hex[:10]  # BuildKit's cache would otherwise skip the RUNs of an earlier session
    base = f"ARG BASE\nFROM ${{BASE}}\nRUN uname -m > /arch.txt && echo {nonce} > /nonce\n"
    repo = make_repo(tmp_path / "repo", {**FILES, "flavors/mp/base/Dockerfile": base})
    repository = f"{registry.host}/slcct{nonce}"  # registry cache too, for both platforms
    hashes = {h["step"]: h for h in json.loads(_slcc(repo, repository, "hash", "mp", "--json").stdout)}
    image_cleanup.add(*(h["tag"] for h in hashes.values()))

    report = json.loads(_slcc(repo, repository, "build", "mp", "--push", "--json").stdout)
    assert {s["step"]: s["status"] for s in report["steps"]} == {"base": "built", "app": "built"}
    assert _registry_platforms(registry, hashes["app"]["tag"]) == {"linux/amd64", "linux/arm64"}
    for platform, machine in (("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")):
        out = subprocess.run(["docker", "run", "--rm", "--platform", platform, hashes["app"]["tag"], "cat", "/arch.txt"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        assert out == f"{machine}\napp\n"

    # One archive per platform, named like exaslct's (x64, arm64), each holding its platform's files.
    exported = json.loads(_slcc(repo, repository, "export", "mp", "--json").stdout)
    short = hashes["app"]["hash"][:32]
    assert [(Path(e["archive"]).name, e["platform"]) for e in exported] == [
        (f"mp-app-x64-{short}.tar.gz", "linux/amd64"), (f"mp-app-arm64-{short}.tar.gz", "linux/arm64")]
    for entry, machine in zip(exported, ("x86_64", "aarch64"), strict=True):
        with tarfile.open(entry["archive"]) as tar:
            arch = tar.extractfile("arch.txt")
            busybox = tar.extractfile("bin/busybox")
            assert arch is not None and busybox is not None
            assert arch.read() == f"{machine}\napp\n".encode()
            assert _elf_machine(busybox.read(20)) == ELF_MACHINE[machine]
    again = json.loads(_slcc(repo, repository, "export", "mp", "--json").stdout)
    assert [e["cached"] for e in again] == [True, True]

    # The test step runs on both platforms (its RUN compares the recorded and the running machine).
    image_cleanup.add(hashes["test"]["tag"])
    tested = _slcc(repo, repository, "test", "mp")
    assert tested.stdout.startswith("PASS mp/test on linux/amd64, linux/arm64 "), tested.stdout
    logs = "".join(p.read_text(encoding="utf-8") for p in (repo / ".slcc" / "runs").glob("*/build.log"))
    assert "ran on x86_64" in logs and "ran on aarch64" in logs


def test_the_platform_set_is_part_of_every_hash(tmp_path: Path, engine: object) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    both = json.loads(run_slcc(repo, "hash", "mp", "--json").stdout)
    toml = repo / "flavors/mp/flavor.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(PLATFORMS, '["linux/arm64"]'), encoding="utf-8")
    one = json.loads(run_slcc(repo, "hash", "mp", "--json").stdout)
    assert all(a["hash"] != b["hash"] for a, b in zip(both, one, strict=True))
