"""slcc serve's queue on a real PostgreSQL server (the private cluster of slcc/resources/serve-deps.sh).

The queue tests of tests/unit/test_serve_core.py run here again against PostgreSQL (this module's
``new_queue`` fixture replaces the SQLite one), plus two `slcc serve` instances sharing one queue.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from slcc.serve.queue import BuildQueue, PostgresDatabase
from tests.conftest import RESOURCES, ImageCleanup
from tests.integration.test_serve import OTHER_FILES, _forget_images, make_service
from tests.serve_client import Service
from tests.unit.test_serve_core import (  # noqa: F401 - collected here with this module's new_queue
    QueueFactory,
    test_cancel,
    test_claims_are_atomic_under_concurrency,
    test_concurrent_deliveries_of_one_push_queue_it_once,
    test_newer_push_supersedes_a_queued_build_of_the_same_branch,
    test_recover_requeues_then_fails_interrupted,
    test_same_content_is_not_queued_twice_and_deliveries_are_idempotent,
)

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.engine  # CI=true / --require-engine: fail instead of skipping when it is missing


@pytest.fixture(scope="session")
def postgres_url(pytestconfig: pytest.Config) -> str:
    url = os.environ.get("SLCC_TEST_POSTGRES") or subprocess.run(
        ["bash", str(RESOURCES / "serve-deps.sh"), "url"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        message = f"PostgreSQL at {url} does not answer ({exc}); run `bash slcc/resources/serve-deps.sh up`"
        ci = os.environ.get("CI", "").lower() in {"1", "true", "yes", "on"}
        if ci or pytestconfig.getoption("--require-engine"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return url


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"slcc_t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield postgres_url.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def new_queue(database_url: str) -> Iterator[QueueFactory]:
    opened: list[PostgresDatabase] = []

    def factory() -> BuildQueue:
        db = PostgresDatabase(database_url)
        opened.append(db)
        return BuildQueue(db)

    yield factory
    for db in opened:
        db.close()


def test_two_instances_share_one_queue(tmp_path: Path, base_image: str, image_cleanup: ImageCleanup,
                                       database_url: str) -> None:
    """Both instances get the push (two hooks on the git host): it is queued once and built once."""
    repo, first = make_service(tmp_path / "a", OTHER_FILES, "--database", database_url, "--instance", "a")
    second = Service(repo.bare, tmp_path / "b" / "state", first.port + 1 if first.port < 65000 else first.port - 1,
                     first.env, ("--database", database_url, "--instance", "b", *first.args[:2]))
    (tmp_path / "b").mkdir()
    first.start()
    second.start()
    try:
        commit = repo.commit({}, "initial push")
        answers = [first.github(commit), second.github(commit)]
        queued = [q for a in answers for q in a.json()["queued"]]
        assert len(queued) == 1, [a.body for a in answers]
        done = first.wait(queued[0])
        assert done["status"] == "succeeded" and done["worker"] in ("a", "b")
        assert second.build(queued[0])["status"] == "succeeded"
        assert len(second.request("GET", "/api/builds").json()["builds"]) == 1
    finally:
        _forget_images(first, image_cleanup)
        first.stop()
        second.stop()
