"""`slcc serve` under load: signed push deliveries at a fixed rate, with duplicates.

A local bare repository gets DISTINCT branches, each with its own commit changing one busybox
flavor. The client then sends DELIVERIES signed GitHub push hooks at RATE per second from a
thread pool: every commit several times under one delivery id (redeliveries) and under new ids
(the same push reported again). Afterwards the queue must hold exactly one build per distinct
commit, all succeeded, and no delivery may have failed ("none lost"). The figures are the accept
latency (request sent to answer received) p50/p99 and the time until the queue drained.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.serve_client import GIT, SECRET, TOKEN, FlavorRepo, Service, free_port

FLAVOR = {
    "flavors/load/flavor.toml": '[flavor]\ngoals = ["app"]\n[args]\nBASE = "slcc-test/busybox:1"\n[steps.app]\n',
    "flavors/load/app/Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY change.txt /change.txt\n",
    "flavors/load/app/change.txt": "initial\n",
}


def _branches(repo: FlavorRepo, distinct: int) -> list[str]:
    """One branch per distinct change, all pushed in one go; returns their commits."""
    commits = []
    for i in range(distinct):
        subprocess.run(["git", "-C", str(repo.work), "checkout", "-q", "-B", f"load-{i}", "main"], check=True)
        (repo.work / "flavors/load/app/change.txt").write_text(f"change {i} {uuid.uuid4().hex}\n")
        subprocess.run([*GIT, "-C", str(repo.work), "commit", "-qam", f"change {i}"], check=True)
        commits.append(subprocess.run(["git", "-C", str(repo.work), "rev-parse", "HEAD"], check=True,
                                      capture_output=True, text=True).stdout.strip())
    subprocess.run(["git", "-C", str(repo.work), "push", "-q", "origin", "--all"], check=True)
    return commits


def _schedule(commits: list[str], deliveries: int, seed: int) -> list[tuple[str, str, str]]:
    """(commit, branch, delivery id) in a shuffled order; about half the duplicates reuse an id."""
    rng = random.Random(seed)
    plan = [(c, f"load-{i}", str(uuid.uuid4())) for i, c in enumerate(commits)]
    while len(plan) < deliveries:
        commit, branch, delivery = rng.choice(plan[:len(commits)])
        plan.append((commit, branch, delivery if rng.random() < 0.5 else str(uuid.uuid4())))
    rng.shuffle(plan)
    return plan


def _send(service: Service, start: float, i: int, rate: float, item: tuple[str, str, str]) -> dict[str, Any]:
    delay = start + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    sent = time.monotonic()
    try:
        resp = service.github(item[0], delivery=item[2], ref=f"refs/heads/{item[1]}")
        status, queued = resp.status, resp.json().get("queued", []) if resp.status in (200, 202) else []
    except OSError as exc:
        status, queued = 0, [f"{exc}"]
    return {"status": status, "latency": time.monotonic() - sent, "queued": queued, "late": max(0.0, -delay)}


def _drain(service: Service, timeout: float) -> tuple[list[dict[str, Any]], float]:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        builds = service.request("GET", "/api/builds?limit=1000").json()["builds"]
        if all(b["status"] not in ("queued", "running") for b in builds):
            return builds, time.monotonic() - start
        time.sleep(0.5)
    raise RuntimeError(f"queue not drained after {timeout} s")


def bench_serve(work: Path, deliveries: int = 500, distinct: int = 40, rate: float = 50.0,
                concurrency: int = 16) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="serve-", dir=work))
    repo = FlavorRepo.create(root / "repo", FLAVOR)
    commits = _branches(repo, distinct)
    env = {**os.environ, "SLCC_CA_BUNDLE": "none", "SLCC_WEBHOOK_SECRET": SECRET, "SLCC_API_TOKEN": TOKEN}
    repository = f"slccbench{uuid.uuid4().hex[:8]}"
    service = Service(repo.bare, root / "state", free_port(), env, ("--repository", repository)).start()
    try:
        plan = _schedule(commits, deliveries, seed=16)
        start = time.monotonic()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda a: _send(service, start, a[0], rate, a[1]), enumerate(plan)))
        sent_seconds = time.monotonic() - start
        builds, drain_seconds = _drain(service, timeout=1800)
        tags = {s["tag"] for b in builds for s in (service.build(b["id"]).get("report") or {}).get("steps", [])}
    finally:
        service.stop()
    subprocess.run(["docker", "rmi", "-f", *sorted(tags)], capture_output=True, check=False) if tags else None
    return _figures(results, builds, commits, sent_seconds, drain_seconds)


def _figures(results: list[dict[str, Any]], builds: list[dict[str, Any]], commits: list[str], sent_seconds: float,
             drain_seconds: float) -> dict[str, Any]:
    latencies = sorted(r["latency"] for r in results)
    per_commit = {c: [b for b in builds if b["commit"] == c] for c in commits}
    return {
        "deliveries": len(results), "distinct_changes": len(commits), "sent_seconds": round(sent_seconds, 2),
        "accepted": sum(r["status"] in (200, 202) for r in results),
        "lost": sum(r["status"] not in (200, 202) for r in results),
        "answered_202": sum(r["status"] == 202 for r in results),
        "builds": len(builds),
        "changes_built_once": sum(len(v) == 1 and v[0]["status"] == "succeeded" for v in per_commit.values()),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "drain_seconds": round(drain_seconds, 1),
        "latencies_s": [round(x, 4) for x in latencies],  # every accept latency, for min/median/max
    }


if __name__ == "__main__":
    print(json.dumps(bench_serve(Path(tempfile.mkdtemp(prefix="slcc-bench-serve-"))), indent=2))
