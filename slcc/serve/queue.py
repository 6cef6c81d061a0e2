"""The build queue and history: SQLite (default, WAL, one file) or PostgreSQL (several instances).

Every decision that reads and then writes (dedupe and enqueue, claim, cancel) happens in one
transaction: ``BEGIN IMMEDIATE`` on SQLite (one writer at a time), and on PostgreSQL a
transaction-level advisory lock for enqueue plus ``FOR UPDATE SKIP LOCKED`` for the claim, so
two instances never claim the same build. Secrets are never stored here.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from slcc.errors import EngineError
from slcc.serve.records import COLUMNS, Build, Enqueued, NewBuild, Skipped

_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM builds"
_ACTIVE = ("queued", "running", "succeeded")  # a build in one of these states makes an equal key redundant


class Tx(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class Database(Protocol):
    dialect: str

    def transaction(self, serialized: bool = False) -> contextlib.AbstractContextManager[Tx]: ...

    def close(self) -> None: ...


def _schema(dialect: str) -> list[str]:
    ident = "INTEGER PRIMARY KEY AUTOINCREMENT" if dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    real = "REAL" if dialect == "sqlite" else "DOUBLE PRECISION"
    return [
        f"""CREATE TABLE IF NOT EXISTS builds (
            id {ident}, status TEXT NOT NULL, flavor TEXT NOT NULL, goals TEXT NOT NULL, ref TEXT NOT NULL,
            commit_sha TEXT NOT NULL, key TEXT NOT NULL, trigger TEXT NOT NULL, delivery TEXT,
            created {real} NOT NULL, started {real}, finished {real}, worker TEXT, pid INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0, reason TEXT, report TEXT, artifacts TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS builds_status ON builds (status, id)",
        "CREATE INDEX IF NOT EXISTS builds_key ON builds (flavor, key)",
        f"CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, received {real} NOT NULL, response TEXT)",
    ]


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql, tuple(params)).fetchall()]


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses no committed transaction order
        with self.transaction() as tx:
            for statement in _schema(self.dialect):
                tx.execute(statement)

    @contextlib.contextmanager
    def transaction(self, serialized: bool = False) -> Iterator[Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


class _PostgresTx:
    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(sql.replace("?", "%s"), tuple(params))
        return [tuple(r) for r in self.cursor.fetchall()] if self.cursor.description else []


class PostgresDatabase:
    dialect = "postgres"
    _ENQUEUE_LOCK = 0x51CC5E4E  # advisory lock id: enqueue decisions of all instances, one at a time

    def __init__(self, url: str) -> None:
        import psycopg  # noqa: PLC0415 - only PostgreSQL users need the driver

        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise EngineError(f"cannot connect to PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
        self._lock = threading.Lock()
        with self.transaction(serialized=True) as tx:
            for statement in _schema(self.dialect):
                tx.execute(statement)

    @contextlib.contextmanager
    def transaction(self, serialized: bool = False) -> Iterator[Tx]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cursor:
            tx = _PostgresTx(cursor)
            if serialized:
                tx.execute("SELECT pg_advisory_xact_lock(?)", (self._ENQUEUE_LOCK,))
            yield tx

    def close(self) -> None:
        self._conn.close()


def open_database(url: str | None, state_dir: Path) -> Database:
    """``postgresql://...`` opens PostgreSQL; anything else (or None) the SQLite file under the state dir."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    return SqliteDatabase(Path(url) if url else state_dir / "serve.db")


class BuildQueue:
    """Queue operations on top of a Database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        """The stored answer to an earlier delivery with this id, if any."""
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT response FROM deliveries WHERE id = ?", (delivery_id,))
        if not rows:
            return None
        return json.loads(rows[0][0]) if rows[0][0] else {}

    def enqueue(self, builds: Sequence[NewBuild], delivery: str | None = None,
                skipped: Sequence[Skipped] = (), supersede: bool = True) -> Enqueued:
        """Queue ``builds`` unless an equal key is queued, running or built; record the delivery.

        A queued build of the same flavor and ref is superseded (cancelled) by the new one.
        """
        now = time.time()
        with self.db.transaction(serialized=True) as tx:
            if delivery is not None:
                if tx.execute("SELECT id FROM deliveries WHERE id = ?", (delivery,)):
                    return Enqueued((), (), (), duplicate_delivery=True)
                tx.execute("INSERT INTO deliveries (id, received) VALUES (?, ?)", (delivery, now))
            queued: list[int] = []
            superseded: list[int] = []
            skips = list(skipped)
            for new in builds:
                same = tx.execute(
                    "SELECT id, status FROM builds WHERE flavor = ? AND key = ? AND status IN (?, ?, ?) "
                    "ORDER BY id DESC LIMIT 1", (new.flavor, new.key, *_ACTIVE))
                if same:
                    skips.append(Skipped(new.flavor, f"unchanged: same content as build {same[0][0]} ({same[0][1]})"))
                    continue
                if supersede:
                    rows = tx.execute(
                        "UPDATE builds SET status = 'cancelled', finished = ?, reason = ? "
                        "WHERE status = 'queued' AND flavor = ? AND ref = ? AND trigger <> 'api' RETURNING id",
                        (now, f"superseded by a newer push to {new.ref}", new.flavor, new.ref))
                    superseded.extend(int(r[0]) for r in rows)
                rows = tx.execute(
                    "INSERT INTO builds (status, flavor, goals, ref, commit_sha, key, trigger, delivery, created) "
                    "VALUES ('queued', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (new.flavor, json.dumps(list(new.goals)), new.ref, new.commit, new.key, new.trigger,
                     new.delivery, now))
                queued.append(int(rows[0][0]))
            result = Enqueued(tuple(queued), tuple(skips), tuple(superseded))
            if delivery is not None:
                tx.execute("UPDATE deliveries SET response = ? WHERE id = ?", (json.dumps(result.as_json()), delivery))
        return result

    def claim(self, worker: str) -> Build | None:
        """Take the oldest queued build atomically (no build is claimed twice)."""
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        with self.db.transaction() as tx:
            rows = tx.execute(
                "UPDATE builds SET status = 'running', started = ?, worker = ?, attempts = attempts + 1 "
                f"WHERE id = (SELECT id FROM builds WHERE status = 'queued' ORDER BY id LIMIT 1{lock}) "
                "RETURNING " + ", ".join(COLUMNS), (time.time(), worker))
        return Build.from_row(rows[0]) if rows else None

    def set_pid(self, build_id: int, pid: int | None) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE builds SET pid = ? WHERE id = ?", (pid, build_id))

    def finish(self, build_id: int, status: str, reason: str | None, report: dict[str, Any] | None,
               artifacts: Sequence[str]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE builds SET status = ?, finished = ?, reason = ?, report = ?, artifacts = ?, pid = NULL "
                "WHERE id = ? AND status = 'running'",
                (status, time.time(), reason, json.dumps(report) if report is not None else None,
                 json.dumps(list(artifacts)), build_id))

    def requeue(self, build_id: int, reason: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE builds SET status = 'queued', started = NULL, worker = NULL, pid = NULL, reason = ? "
                       "WHERE id = ? AND status = 'running'", (reason, build_id))

    def cancel(self, build_id: int) -> Build | None:
        """Cancel a queued build now; ask the worker of a running one to stop it."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE builds SET status = 'cancelled', finished = ?, reason = 'cancelled on request' "
                       "WHERE id = ? AND status = 'queued'", (time.time(), build_id))
            tx.execute("UPDATE builds SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (build_id,))
        return self.get(build_id)

    def cancel_requested(self, build_id: int) -> bool:
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT cancel_requested FROM builds WHERE id = ?", (build_id,))
        return bool(rows and rows[0][0])

    def recover(self, worker: str, max_attempts: int) -> list[Build]:
        """After a crash: this worker's running builds go back to the queue (or fail after max_attempts)."""
        now = time.time()
        with self.db.transaction() as tx:
            rows = tx.execute(_SELECT + " WHERE status = 'running' AND worker = ?", (worker,))
            builds = [Build.from_row(r) for r in rows]
            for b in builds:
                if b.attempts >= max_attempts or b.cancel_requested:
                    why = "cancelled on request" if b.cancel_requested else \
                        f"failed-interrupted: the service stopped during attempt {b.attempts} of {max_attempts}"
                    tx.execute("UPDATE builds SET status = ?, finished = ?, reason = ?, pid = NULL WHERE id = ?",
                               ("cancelled" if b.cancel_requested else "failed", now, why, b.id))
                else:
                    tx.execute("UPDATE builds SET status = 'queued', started = NULL, worker = NULL, pid = NULL, "
                               "reason = ? WHERE id = ?",
                               (f"re-queued: the service stopped during attempt {b.attempts}", b.id))
        return builds

    def get(self, build_id: int) -> Build | None:
        with self.db.transaction() as tx:
            rows = tx.execute(_SELECT + " WHERE id = ?", (build_id,))
        return Build.from_row(rows[0]) if rows else None

    def list(self, limit: int = 100, status: str | None = None) -> list[Build]:
        where, params = (" WHERE status = ?", [status]) if status else ("", [])
        with self.db.transaction() as tx:
            rows = tx.execute(_SELECT + where + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [Build.from_row(r) for r in rows]
