"""Stat cache: racy-clean rule, robust loading, atomic and change-only saving, eviction."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from slcc.hashing import statcache
from slcc.hashing.statcache import RACY_NS, StatCache

NOW = 1_700_000_000 * 10**9
DIGEST = "ab" * 32


def fake_stat(
    *, size: int = 10, mtime: int = NOW - 10 * RACY_NS, ino: int = 7, ctime: int | None = None
) -> os.stat_result:
    ctime = mtime if ctime is None else ctime
    ns = SimpleNamespace(st_size=size, st_mtime_ns=mtime, st_ino=ino, st_ctime_ns=ctime)
    return cast(os.stat_result, ns)


def test_lookup_needs_the_whole_signature() -> None:
    cache = StatCache()
    st = fake_stat()
    cache.store("/p", st, DIGEST, observed_ns=NOW)
    assert cache.lookup("/p", st) == DIGEST
    assert cache.lookup("/other", st) is None
    assert cache.lookup("/p", fake_stat(size=11)) is None
    assert cache.lookup("/p", fake_stat(mtime=NOW - 10 * RACY_NS + 1, ctime=NOW - 10 * RACY_NS)) is None
    assert cache.lookup("/p", fake_stat(ino=8)) is None
    assert cache.lookup("/p", fake_stat(ctime=NOW - 5 * RACY_NS)) is None


@pytest.mark.parametrize(
    ("mtime", "ctime", "stored"),
    [
        pytest.param(NOW - RACY_NS - 1, NOW - RACY_NS - 1, True, id="old-enough"),
        pytest.param(NOW - RACY_NS, NOW - RACY_NS, True, id="exactly-window-old"),
        pytest.param(NOW - RACY_NS + 1, NOW - 10 * RACY_NS, False, id="mtime-inside-window"),
        pytest.param(NOW - 10 * RACY_NS, NOW - RACY_NS // 2, False, id="recent-ctime"),
        pytest.param(NOW + 10 * RACY_NS, NOW - 10 * RACY_NS, False, id="mtime-in-future"),
    ],
)
def test_racily_clean_entries_are_not_stored(mtime: int, ctime: int, stored: bool) -> None:
    cache = StatCache()
    st = fake_stat(mtime=mtime, ctime=ctime)
    cache.store("/p", st, DIGEST, observed_ns=NOW)
    assert (cache.lookup("/p", st) == DIGEST) is stored


def test_racy_store_drops_the_old_entry() -> None:
    cache = StatCache()
    cache.store("/p", fake_stat(), DIGEST, observed_ns=NOW)
    cache.store("/p", fake_stat(mtime=NOW), "cd" * 32, observed_ns=NOW)
    assert len(cache) == 0


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state" / "cache.bin"
    cache = StatCache.load(path)
    odd = "/tmp/caf\u00e9/\udcff-undecodable"
    for i, name in enumerate(["/a", "/b c", odd]):
        cache.store(name, fake_stat(ino=i), f"{i:02x}" * 32, observed_ns=NOW)
    cache.save()
    loaded = StatCache.load(path)
    assert len(loaded) == 3
    assert loaded.lookup(odd, fake_stat(ino=2)) == "02" * 32
    assert loaded.lookup("/b c", fake_stat(ino=1)) == "01" * 32


def test_save_only_when_changed(tmp_path: Path) -> None:
    path = tmp_path / "cache.bin"
    cache = StatCache.load(path)
    cache.save()
    assert not path.exists()
    cache.store("/a", fake_stat(), DIGEST, observed_ns=NOW)
    cache.save()
    ino = path.stat().st_ino  # an atomic replace would give a new inode
    again = StatCache.load(path)
    assert again.lookup("/a", fake_stat()) == DIGEST
    again.store("/a", fake_stat(), DIGEST, observed_ns=NOW)  # same entry: no change
    again.save()
    assert path.stat().st_ino == ino


def _saved(tmp_path: Path) -> bytes:
    cache = StatCache(tmp_path / "good.bin")
    for i in range(5):
        cache.store(f"/f{i}", fake_stat(ino=i), DIGEST, observed_ns=NOW)
    cache.save()
    return (tmp_path / "good.bin").read_bytes()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b[:20], id="truncated-header"),
        pytest.param(lambda b: b[:-3], id="truncated-body"),
        pytest.param(lambda b: b + b"\0", id="trailing-bytes"),
        pytest.param(lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], id="flipped-bit"),
        pytest.param(lambda b: b[:8] + (99).to_bytes(4, "little") + b[12:], id="other-version"),
        pytest.param(lambda b: b"NOTSLCC!" + b[8:], id="wrong-magic"),
        pytest.param(lambda b: b'{"version": 1, "entries": {}}', id="json"),
    ],
)
def test_damaged_file_loads_empty(tmp_path: Path, damage: object) -> None:
    good = _saved(tmp_path)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(damage(good))  # type: ignore[operator]
    assert len(StatCache.load(bad)) == 0


def test_unreadable_path_loads_empty(tmp_path: Path) -> None:
    assert len(StatCache.load(tmp_path)) == 0  # a directory
    assert len(StatCache.load(tmp_path / "missing" / "x")) == 0


SAVERS = 4
ROUNDS = 6
ENTRIES = 2000  # ~150 KB per save: big enough that a non-atomic write is seen torn


def _saver_paths(saver: int) -> set[str]:
    return {f"/saver{saver}/file{k}" for k in range(ENTRIES)}


def _save_rounds(path: Path, saver: int, barrier: threading.Barrier) -> None:
    for _ in range(ROUNDS):
        cache = StatCache.load(path)
        for p in _saver_paths(saver):
            cache.store(p, fake_stat(), DIGEST, observed_ns=NOW)
        barrier.wait()  # all savers write the same file at the same moment
        cache.save()


def _read_until(path: Path, done: threading.Event, seen: list[frozenset[str]]) -> None:
    while not done.is_set():
        seen.append(frozenset(StatCache.load(path)._entries))


def test_concurrent_savers_leave_a_valid_file(tmp_path: Path) -> None:
    """Savers run at once (barrier per round) while a reader loads: every load is whole."""
    path = tmp_path / "cache.bin"
    first = StatCache.load(path)
    first.store("/initial", fake_stat(), DIGEST, observed_ns=NOW)
    first.save()
    barrier, done = threading.Barrier(SAVERS), threading.Event()
    seen: list[frozenset[str]] = []
    savers = [threading.Thread(target=_save_rounds, args=(path, i, barrier)) for i in range(SAVERS)]
    reader = threading.Thread(target=_read_until, args=(path, done, seen))
    reader.start()
    for t in savers:
        t.start()
    for t in savers:
        t.join()
    done.set()
    reader.join()
    # A saver keeps what it loaded, so a whole file is the union of some savers' entries
    # (plus /initial); a torn or interleaved file would load empty or as a stray subset.
    valid = {"/initial"} | set().union(*(_saver_paths(i) for i in range(SAVERS)))
    for entries in [*seen, frozenset(StatCache.load(path)._entries)]:
        assert "/initial" in entries and entries <= valid
        assert all(_saver_paths(i) <= entries or not _saver_paths(i) & entries for i in range(SAVERS))
    final = StatCache.load(path)
    assert len(final) > 1 and final.lookup("/initial", fake_stat()) == DIGEST
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_eviction_keeps_entries_used_this_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statcache, "MAX_ENTRIES", 3)
    path = tmp_path / "cache.bin"
    first = StatCache.load(path)
    for i in range(3):
        first.store(f"/old{i}", fake_stat(), DIGEST, observed_ns=NOW)
    first.save()
    second = StatCache.load(path)
    assert second.lookup("/old0", fake_stat()) == DIGEST
    second.store("/new", fake_stat(), DIGEST, observed_ns=NOW)
    second.save()
    kept = StatCache.load(path)
    assert len(kept) == 3
    assert kept.lookup("/old0", fake_stat()) == DIGEST
    assert kept.lookup("/new", fake_stat()) == DIGEST
