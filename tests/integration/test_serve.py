"""`slcc serve` on the real engine: a local bare git repository as SOURCE, signed webhooks, the API."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ImageCleanup
from tests.helpers import DEMO_FILES
from tests.serve_client import SECRET, TOKEN, FlavorRepo, Service, free_port, push_payload, sign

OTHER_FILES = {
    "flavors/other/flavor.toml": '[flavor]\ngoals = ["only"]\n[args]\nBASE = "slcc-test/busybox:1"\n[steps.only]\n',
    "flavors/other/only/Dockerfile": "ARG BASE\nFROM ${BASE}\nRUN echo other > /other.txt\n",
}


def slow_files(seconds: int) -> dict[str, str]:
    """A flavor whose build takes ``seconds`` (the unique file defeats BuildKit's cache across runs)."""
    return {
        "flavors/slow/flavor.toml": '[flavor]\ngoals = ["nap"]\n[args]\nBASE = "slcc-test/busybox:1"\n[steps.nap]\n',
        "flavors/slow/nap/Dockerfile": f"ARG BASE\nFROM ${{BASE}}\nCOPY id.txt /id.txt\nRUN sleep {seconds}\n",
        "flavors/slow/nap/id.txt": uuid.uuid4().hex,
    }


def make_service(tmp_path: Path, files: dict[str, str], *args: str) -> tuple[FlavorRepo, Service]:
    repo = FlavorRepo.create(tmp_path / "repo", files)
    env = {**os.environ, "SLCC_CA_BUNDLE": "none", "SLCC_WEBHOOK_SECRET": SECRET, "SLCC_API_TOKEN": TOKEN}
    repository = f"slcct{uuid.uuid4().hex[:10]}"
    service = Service(repo.bare, tmp_path / "state", free_port(), env, ("--repository", repository, *args))
    return repo, service


@pytest.fixture
def served(tmp_path: Path, base_image: str, image_cleanup: ImageCleanup) -> Iterator[tuple[FlavorRepo, Service]]:
    repo, service = make_service(tmp_path, {**DEMO_FILES, **OTHER_FILES}, "--max-body", "65536", "--keep", "2")
    service.start()
    yield repo, service
    _forget_images(service, image_cleanup)
    service.stop()


def _forget_images(service: Service, image_cleanup: ImageCleanup) -> None:
    """Register the images the service built for removal at session end (while it still answers)."""
    try:
        builds = service.request("GET", "/api/builds?limit=1000")
    except OSError:
        return
    if builds.status == 200:
        for b in builds.json()["builds"]:
            report = service.build(b["id"]).get("report") or {}
            image_cleanup.add(*(s["tag"] for s in report.get("steps", [])))


def _queued(resp: object) -> list[int]:
    assert getattr(resp, "status") == 202, getattr(resp, "body")  # noqa: B009
    return list(resp.json()["queued"])  # type: ignore[attr-defined]


def test_push_builds_the_changed_flavor_and_serves_report_log_artifacts(served: tuple[FlavorRepo, Service]) -> None:
    repo, service = served
    first = repo.commit({}, "initial push")
    ids = _queued(service.github(first))
    assert len(ids) == 2  # demo and other: never built here
    for build_id in ids:
        assert service.wait(build_id)["status"] == "succeeded"

    change = repo.commit({"src/main.txt": "main v2\n"}, "change the demo client")
    resp = service.github(change)
    [demo_id] = _queued(resp)
    assert resp.json()["skipped"][0]["flavor"] == "other"
    build = service.wait(demo_id)
    assert build["status"] == "succeeded" and build["flavor"] == "demo" and build["commit"] == change
    assert {s["step"]: s["status"] for s in build["report"]["steps"]} == {"base": "fresh-local", "app": "built"}

    log = service.request("GET", f"/api/builds/{demo_id}/log")
    assert log.status == 200 and log.headers["content-type"].startswith("text/plain")
    assert f"[serve] build {demo_id} finished: ok" in log.body.decode()

    listed = service.request("GET", "/api/artifacts").json()["artifacts"]
    urls = {a["url"] for a in listed if a["build"] == demo_id}
    assert urls == set(build["artifacts"]) == {f"/artifacts/{demo_id}/report.json", f"/artifacts/{demo_id}/bake.hcl"}
    report = service.request("GET", f"/artifacts/{demo_id}/report.json")
    assert report.status == 200 and report.json() == build["report"]
    assert b"demo_app" in service.request("GET", f"/artifacts/{demo_id}/bake.hcl").body
    # --keep 2: the files of the oldest of the three builds are gone, its record stays.
    assert {a["build"] for a in listed} == {max(ids), demo_id}
    assert service.build(min(ids))["status"] == "succeeded"
    assert service.request("GET", f"/api/builds/{min(ids)}/log").body == b""
    for escape in (f"/artifacts/{demo_id}/../../serve.db", "/artifacts/..%2Fserve.db", "/artifacts/%2e%2e/serve.db",
                   "/artifacts//etc/passwd"):
        assert service.request("GET", escape).status == 404, escape


def test_redelivery_and_no_change_push_queue_nothing(served: tuple[FlavorRepo, Service]) -> None:
    repo, service = served
    commit = repo.commit({}, "initial push")
    ids = _queued(service.github(commit, delivery="delivery-1"))
    again = service.github(commit, delivery="delivery-1")
    assert again.status == 200 and again.json()["queued"] == [] and again.json()["duplicate_delivery"] is True
    for build_id in ids:
        service.wait(build_id)

    readme = repo.commit({"README.md": "not part of any flavor\n"}, "docs only")
    nothing = service.github(readme, delivery="delivery-2")
    assert nothing.status == 200 and nothing.json()["queued"] == []
    assert sorted(s["flavor"] for s in nothing.json()["skipped"]) == ["demo", "other"]
    assert "unchanged" in nothing.json()["why"]
    assert len(service.request("GET", "/api/builds").json()["builds"]) == 2


def test_bad_signatures_and_oversized_bodies_are_refused(served: tuple[FlavorRepo, Service]) -> None:
    repo, service = served
    commit = repo.commit({}, "initial push")
    body = push_payload(commit).replace(b'"flavors"', b'"body-marker-7c1e"')
    wrong = service.github(commit, secret="not-the-secret", body=body)
    assert wrong.status == 401
    unsigned = service.request("POST", "/hooks/github", body, {"X-GitHub-Event": "push"})
    assert unsigned.status == 401
    gitlab_wrong = service.request("POST", "/hooks/gitlab", body, {"X-Gitlab-Event": "Push Hook",
                                                                   "X-Gitlab-Token": "nope"})
    assert gitlab_wrong.status == 401
    big = b"{" + b" " * 70000 + b"}"
    assert service.request("POST", "/hooks/github", big, {"X-Hub-Signature-256": sign(big)}).status == 413
    assert service.request("POST", "/api/builds", b"{}").status == 401
    assert service.github(commit, event="ping").json() == {"pong": True}
    assert service.request("GET", "/api/builds").json()["builds"] == []
    output = service.output()
    assert "missing or wrong signature" in output
    assert "body-marker-7c1e" not in output and SECRET not in output and TOKEN not in output
    second = subprocess.run([sys.executable, "-m", "slcc", "serve", "--repo", str(service.source), "--port",
                             str(service.port + 1), "--state-dir", str(service.state)],
                            capture_output=True, text=True, env=service.env, timeout=60, check=False)
    assert second.returncode == 2 and second.stderr.strip().splitlines() == [
        f"slcc: error: --state-dir: {service.state.resolve()} is used by another running slcc serve"], second.stderr
    db = (service.state / "serve.db").read_bytes()
    assert SECRET.encode() not in db and TOKEN.encode() not in db


def test_gitlab_push_and_api_build_and_cancel(tmp_path: Path, base_image: str, image_cleanup: ImageCleanup) -> None:
    repo, service = make_service(tmp_path, {**OTHER_FILES, **slow_files(120)})
    service.start()
    try:
        commit = repo.commit({}, "initial push")
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        resp = service.request("POST", "/api/builds", b'{"flavor": "slow", "ref": "main"}', auth)
        [slow_id] = _queued(resp)
        assert service.build(slow_id)["ref"] == "refs/heads/main"
        body = push_payload(commit)
        gitlab = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET, "Idempotency-Key": "gl-1"}
        hook = service.request("POST", "/hooks/gitlab", body, gitlab)
        assert hook.status == 202  # "other" (slow is already queued with the same content)
        retry = service.request("POST", "/hooks/gitlab", body, gitlab)
        assert retry.status == 200 and retry.json()["duplicate_delivery"] is True
        assert [s["flavor"] for s in hook.json()["skipped"]] == ["slow"]
        service.wait(slow_id, ("running",))
        _wait_for_log(service, slow_id, "sleep 120")
        # While the worker is busy, two pushes to one branch: the newer supersedes the queued older one.
        older = repo.commit({"flavors/other/only/Dockerfile": OTHER_FILES["flavors/other/only/Dockerfile"] + "ENV V=1\n"},
                            "feature 1", branch="feature")
        [older_id] = _queued(service.github(older, ref="refs/heads/feature"))
        newer = repo.commit({"flavors/other/only/Dockerfile": OTHER_FILES["flavors/other/only/Dockerfile"] + "ENV V=2\n"},
                            "feature 2", branch="feature")
        newer_resp = service.github(newer, ref="refs/heads/feature")
        [newer_id] = _queued(newer_resp)
        assert newer_resp.json()["superseded"] == [older_id]
        superseded = service.build(older_id)
        assert superseded["status"] == "cancelled" and "superseded" in superseded["reason"]
        cancel = service.request("POST", f"/api/builds/{slow_id}/cancel", b"", auth)
        assert cancel.status == 202
        cancelled = service.wait(slow_id, timeout=120)
        assert cancelled["status"] == "cancelled"
        [other_id] = hook.json()["queued"]
        assert service.wait(other_id)["status"] == "succeeded"
        assert service.wait(newer_id)["status"] == "succeeded"
    finally:
        _forget_images(service, image_cleanup)
        service.stop()


def _wait_for_log(service: Service, build_id: int, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in service.request("GET", f"/api/builds/{build_id}/log").body.decode(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not in the log of build {build_id}"
        time.sleep(0.3)


def test_kill_9_mid_build_requeues_and_the_restart_builds_it(tmp_path: Path, base_image: str,
                                                             image_cleanup: ImageCleanup) -> None:
    repo, service = make_service(tmp_path, slow_files(10))
    service.start()
    try:
        [build_id] = _queued(service.github(repo.commit({}, "initial push")))
        running = service.wait(build_id, ("running",))
        _wait_for_log(service, build_id, "sleep 10")
        runner_pid = _runner_pid(build_id, service)
        service.kill9()
        _wait_gone(runner_pid)  # the runner dies with the service (and stops its bake)
        assert (service.state / "work" / str(build_id)).exists()  # left behind by the crash
        (service.state / "mirror.git" / "refs" / "heads" / "main.lock").touch()  # as a git killed mid-fetch leaves

        service.start()
        done = service.wait(build_id, timeout=180)
        assert done["status"] == "succeeded" and done["attempts"] == 2 and running["attempts"] == 1
        assert not (service.state / "work" / str(build_id)).exists()
        assert "was running when the service stopped: re-queued" in service.output()
        # Nothing left blocks the next build: a new commit builds at once.
        [next_id] = _queued(service.github(repo.commit({"flavors/slow/nap/id.txt": uuid.uuid4().hex}, "again")))
        assert service.wait(next_id, timeout=180)["status"] == "succeeded"
    finally:
        _forget_images(service, image_cleanup)
        service.stop()


def test_sigterm_mid_build_requeues_it(tmp_path: Path, base_image: str, image_cleanup: ImageCleanup) -> None:
    repo, service = make_service(tmp_path, slow_files(10))
    service.start()
    try:
        [build_id] = _queued(service.github(repo.commit({}, "initial push")))
        service.wait(build_id, ("running",))
        _wait_for_log(service, build_id, "sleep 10")
        service.stop()  # SIGTERM: uvicorn shuts down, the worker stops the build and re-queues it
        assert f"build {build_id}: re-queued (service stopping)" in service.output()
        assert not (service.state / "work" / str(build_id)).exists()
        service.start()
        done = service.wait(build_id, timeout=180)
        assert done["status"] == "succeeded" and done["attempts"] == 2
    finally:
        _forget_images(service, image_cleanup)
        service.stop()


def _runner_pid(build_id: int, service: Service) -> int:
    out = subprocess.run(["pgrep", "-f", f"slcc.serve.runner {service.state}/runs/{build_id}/"],
                         capture_output=True, text=True, check=False).stdout.split()
    assert out, "no runner process found"
    return int(out[0])


def _wait_gone(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and b"slcc.serve.runner" in Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, f"runner {pid} still alive"
        time.sleep(0.2)


def test_log_streams_as_server_sent_events_while_running(tmp_path: Path, base_image: str,
                                                         image_cleanup: ImageCleanup) -> None:
    repo, service = make_service(tmp_path, slow_files(3))
    service.start()
    try:
        [build_id] = _queued(service.github(repo.commit({}, "initial push")))
        service.wait(build_id, ("running",))
        conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=120)
        conn.request("GET", f"/api/builds/{build_id}/log", headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        assert resp.getheader("content-type", "").startswith("text/event-stream")
        stream = resp.read().decode()
        conn.close()
        assert "data: [serve] build" in stream and stream.rstrip().endswith("event: end\ndata: succeeded")
    finally:
        _forget_images(service, image_cleanup)
        service.stop()


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                  "--disable-component-update", "--disable-sync")


def _page_dom(service: Service, profile: Path, config: pytest.Config) -> str:
    """The status page's DOM after its script ran, from headless Chromium with a fresh profile."""
    chromium = shutil.which("chromium")
    if chromium is None:
        message = "chromium is not installed; run `bash slcc/resources/serve-deps.sh up` (make test does)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes", "on"} or config.getoption("--require-engine"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    proc = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom",
         f"http://127.0.0.1:{service.port}/"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _row_status(dom: str, build_id: int) -> str | None:
    match = re.search(rf'<tr id="build-{build_id}" data-status="(\w+)">', dom)
    return match.group(1) if match else None


def test_the_page_shows_builds_live_in_headless_chromium(tmp_path: Path, base_image: str,
                                                         image_cleanup: ImageCleanup,
                                                         pytestconfig: pytest.Config) -> None:
    repo, service = make_service(tmp_path, slow_files(20))
    service.start()
    try:
        [build_id] = _queued(service.github(repo.commit({}, "initial push")))
        service.wait(build_id, ("running",))
        running = _page_dom(service, tmp_path / "profile-1", pytestconfig)
        assert _row_status(running, build_id) == "running", running[-3000:]
        service.wait(build_id)
        done = _page_dom(service, tmp_path / "profile-2", pytestconfig)
        assert _row_status(done, build_id) == "succeeded"
        assert f"/api/builds/{build_id}/log" in done and "1 build(s), updated" in done
        assert SECRET not in done and TOKEN not in done
    finally:
        _forget_images(service, image_cleanup)
        service.stop()


def test_export_artifacts_and_a_broken_flavor(tmp_path: Path, base_image: str, image_cleanup: ImageCleanup) -> None:
    repo, service = make_service(tmp_path, OTHER_FILES, "--export")
    service.start()
    try:
        commit = repo.commit({}, "initial push")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        [build_id] = _queued(service.request("POST", "/api/builds", b'{"ref": "HEAD"}', auth))
        build = service.wait(build_id)
        assert build["status"] == "succeeded" and build["commit"] == commit and build["ref"] == "refs/heads/main"
        archives = [a for a in build["artifacts"] if a.endswith(".tar.gz")]
        assert len(archives) == 1 and f"{archives[0]}.sha512sum" in build["artifacts"]
        data = service.request("GET", archives[0]).body
        checksum = service.request("GET", f"{archives[0]}.sha512sum").body.decode()
        assert hashlib.sha512(data).hexdigest() == checksum.split()[0]
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            assert "other.txt" in {m.name.lstrip("./") for m in tar.getmembers()}

        broken = repo.commit({"flavors/other/flavor.toml": OTHER_FILES["flavors/other/flavor.toml"].replace('"only"]', '"missing"]')}, "break")
        resp = service.github(broken)
        assert resp.status == 422 and "flavors/other/flavor.toml" in resp.json()["error"], resp.body
        assert str(service.state) not in resp.json()["error"]
    finally:
        _forget_images(service, image_cleanup)
        service.stop()
