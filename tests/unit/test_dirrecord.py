"""Directory records: an unchanged directory is replayed, any relevant change is seen.

Every cached walk is checked against a walk without any cache (the reference), and a spy on
file reads and stat-cache lookups shows whether a directory was replayed or walked again.
The clock the walker reads is set an hour ahead (``trusted``), so fresh files are older than
the racy window, except in the tests of that window.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from slcc.hashing import dirrecord, treehash
from slcc.hashing.statcache import RACY_NS, StatCache
from slcc.hashing.treehash import TreeDigest, hash_tree
from slcc.loading.dockerignore import IgnoreMatcher

HOUR_NS = 3600 * 10**9


@dataclass
class Spy:
    """Files the walker read and paths it looked up in the per-file cache."""

    read: list[str] = field(default_factory=list)
    looked_up: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.read.clear()
        self.looked_up.clear()

    def read_names(self) -> set[str]:
        return {os.path.basename(p) for p in self.read}


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    seen = Spy()
    real_hash, real_lookup = treehash.hash_file, StatCache.lookup

    def hash_file(path: str) -> str:
        seen.read.append(str(path))
        return real_hash(path)

    def lookup(self: StatCache, abspath: str, st: os.stat_result) -> str | None:
        seen.looked_up.append(abspath)
        return real_lookup(self, abspath, st)

    monkeypatch.setattr(treehash, "hash_file", hash_file)
    monkeypatch.setattr(StatCache, "lookup", lookup)
    return seen


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The walker's clock an hour ahead: every file on disk is past the racy window."""
    monkeypatch.setattr(treehash, "time", SimpleNamespace(time_ns=lambda: time.time_ns() + HOUR_NS))
    yield


def make(root: Path) -> None:
    for rel, data in {
        "top.txt": b"top",
        "a/one.txt": b"one",
        "a/two.txt": b"two",
        "a/deep/inner.txt": b"inner",
        "b/three.txt": b"three",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    os.symlink("top.txt", root / "link")


def bump(path: Path, seconds: int = 1) -> None:
    """Move mtime on, as a later edit would (the coarse kernel clock may not have moved yet)."""
    st = os.lstat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9), follow_symlinks=False)


def warm(root: Path, cache: StatCache, spy: Spy, ignore: IgnoreMatcher | None = None) -> TreeDigest:
    """Two cached walks (the first stores the records); the spy sees only the second."""
    hash_tree(root, cache=cache, ignore=ignore)
    spy.reset()
    return hash_tree(root, cache=cache, ignore=ignore)


def check(root: Path, cache: StatCache, ignore: IgnoreMatcher | None = None) -> TreeDigest:
    """A cached walk that must equal the walk without a cache."""
    got = hash_tree(root, cache=cache, ignore=ignore)
    want = hash_tree(root, ignore=ignore)
    assert got == want
    assert got.entries == want.entries
    return got


@pytest.mark.usefixtures("trusted")
def test_unchanged_tree_is_replayed_without_reading_or_lookups(tmp_path: Path, spy: Spy) -> None:
    make(tmp_path)
    cache = StatCache()
    first = hash_tree(tmp_path, cache=cache)
    assert spy.read_names() == {"top.txt", "one.txt", "two.txt", "inner.txt", "three.txt"}
    again = warm(tmp_path, cache, spy)
    assert spy.read == [] and spy.looked_up == []
    assert again == first == hash_tree(tmp_path)


@pytest.mark.usefixtures("trusted")
def test_replay_survives_a_save_and_load(tmp_path: Path, spy: Spy) -> None:
    make(tmp_path / "ctx")
    cache = StatCache(tmp_path / "cache.bin")
    first = hash_tree(tmp_path / "ctx", cache=cache)
    cache.save()
    spy.reset()
    again = hash_tree(tmp_path / "ctx", cache=StatCache.load(tmp_path / "cache.bin"))
    assert again == first
    assert spy.read == [] and spy.looked_up == []
    assert again.entries == first.entries  # decoded from the stored runs


def add(root: Path) -> None:
    (root / "a" / "new.txt").write_bytes(b"new")


def remove(root: Path) -> None:
    (root / "a" / "two.txt").unlink()


def rename(root: Path) -> None:
    (root / "a" / "two.txt").rename(root / "a" / "zwei.txt")


def move_over(root: Path) -> None:
    (root / "b" / "three.txt").rename(root / "a" / "two.txt")  # same name, other inode


def same_size_edit(root: Path) -> None:
    (root / "a" / "two.txt").write_bytes(b"TWO")
    bump(root / "a" / "two.txt")


def mtime_put_back(root: Path) -> None:
    """Content changed, size and mtime restored (touch -r): only ctime tells."""
    path = root / "a" / "two.txt"
    before = os.stat(path)
    ctime = before.st_ctime_ns
    while os.stat(path).st_ctime_ns == ctime:  # a write in a later tick of the ctime clock
        path.write_bytes(b"TWO")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def chmod_exec(root: Path) -> None:
    (root / "a" / "one.txt").chmod(0o755)


def retarget_link(root: Path) -> None:
    (root / "link").unlink()
    os.symlink("a/one.txt", root / "link")


def nested_edit(root: Path) -> None:
    (root / "a" / "deep" / "inner.txt").write_bytes(b"changed, longer")


def file_becomes_dir(root: Path) -> None:
    (root / "top.txt").unlink()
    (root / "top.txt").mkdir()
    (root / "top.txt" / "x").write_bytes(b"x")


def dir_becomes_file(root: Path) -> None:
    for p in sorted((root / "b").iterdir()):
        p.unlink()
    (root / "b").rmdir()
    (root / "b").write_bytes(b"b is a file now")


CHANGES = [add, remove, rename, move_over, same_size_edit, mtime_put_back, chmod_exec, retarget_link,
           nested_edit, file_becomes_dir, dir_becomes_file]


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__)
def test_every_relevant_change_is_seen(tmp_path: Path, spy: Spy, change: object) -> None:
    make(tmp_path)
    cache = StatCache()
    before = warm(tmp_path, cache, spy)
    change(tmp_path)  # type: ignore[operator]
    after = check(tmp_path, cache)
    assert after.digest != before.digest
    assert check(tmp_path, cache) == after  # and the record written after the change is right too


@pytest.mark.usefixtures("trusted")
def test_only_the_changed_directory_is_walked_again(tmp_path: Path, spy: Spy) -> None:
    make(tmp_path)
    cache = StatCache()
    warm(tmp_path, cache, spy)
    nested_edit(tmp_path)
    spy.reset()
    check(tmp_path, cache)
    # The cached walk read inner.txt (changed) and looked up nothing outside a/deep;
    # the reference walk without a cache read everything, so look at lookups only.
    assert {os.path.dirname(p) for p in spy.looked_up} == {str(tmp_path / "a" / "deep")}


def test_racy_entry_is_read_again(tmp_path: Path, spy: Spy, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path)
    others = max(os.stat(p).st_ctime_ns for p in tmp_path.rglob("*.txt"))
    one = tmp_path / "a" / "one.txt"
    while os.stat(one).st_ctime_ns <= others:  # an edit in a later tick than every other file
        one.write_bytes(b"one")
    # The walk happens just inside one.txt's racy window and just outside everyone else's.
    now = os.stat(one).st_ctime_ns + RACY_NS - 1
    monkeypatch.setattr(treehash, "time", SimpleNamespace(time_ns=lambda: now))
    cache = StatCache()
    first = warm(tmp_path, cache, spy)
    assert spy.read_names() == {"one.txt"}  # neither trusted by the per-file cache nor by a record
    assert {os.path.dirname(p) for p in spy.looked_up} == {str(tmp_path / "a")}  # the rest replayed
    assert first == hash_tree(tmp_path)


def test_racy_window_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f").write_bytes(b"x")
    st = os.stat(tmp_path / "f")
    newest = max(st.st_mtime_ns, st.st_ctime_ns)
    for now, kept in [(newest + RACY_NS, True), (newest + RACY_NS - 1, False)]:
        monkeypatch.setattr(treehash, "time", SimpleNamespace(time_ns=lambda now=now: now))
        cache = StatCache()
        hash_tree(tmp_path, cache=cache)
        assert (len(cache._dirs) == 1) is kept


IGNORE = IgnoreMatcher.from_lines(["*.log", "cache", "skip", "!skip/keep.txt"])


def make_ignored(root: Path) -> None:
    make(root)
    (root / "debug.log").write_bytes(b"log")
    (root / "cache").mkdir()
    (root / "cache" / "blob").write_bytes(b"blob")
    (root / "skip").mkdir()
    (root / "skip" / "keep.txt").write_bytes(b"kept")
    (root / "skip" / "drop.txt").write_bytes(b"dropped")


@pytest.mark.usefixtures("trusted")
def test_ignored_entries_do_not_spoil_a_replay(tmp_path: Path, spy: Spy) -> None:
    make_ignored(tmp_path)
    cache = StatCache()
    before = warm(tmp_path, cache, spy, IGNORE)
    assert [e.path for e in before.entries if e.path.startswith("skip")] == ["skip", "skip/keep.txt"]
    assert spy.looked_up == []
    (tmp_path / "debug.log").write_bytes(b"a much longer log line")
    (tmp_path / "cache" / "blob").write_bytes(b"other")
    spy.reset()
    assert check(tmp_path, cache, IGNORE) == before
    assert not any(p.endswith((".log", "blob")) for p in spy.looked_up + spy.read)


@pytest.mark.usefixtures("trusted")
@pytest.mark.parametrize("removed", [False, True], ids=["edited", "removed"])
def test_changes_to_reincluded_entries_are_seen(tmp_path: Path, spy: Spy, removed: bool) -> None:
    make_ignored(tmp_path)
    cache = StatCache()
    before = warm(tmp_path, cache, spy, IGNORE)
    if removed:
        (tmp_path / "skip" / "keep.txt").unlink()
    else:
        (tmp_path / "skip" / "keep.txt").write_bytes(b"kept, changed")
    assert check(tmp_path, cache, IGNORE) != before


@pytest.mark.usefixtures("trusted")
def test_ignored_file_becoming_a_directory_with_kept_entries(tmp_path: Path, spy: Spy) -> None:
    make(tmp_path)
    (tmp_path / "debug.log").write_bytes(b"log")
    ignore = IgnoreMatcher.from_lines(["*.log", "!debug.log/keep.txt"])
    cache = StatCache()
    before = warm(tmp_path, cache, spy, ignore)
    (tmp_path / "debug.log").unlink()
    (tmp_path / "debug.log").mkdir()
    (tmp_path / "debug.log" / "keep.txt").write_bytes(b"k")
    after = check(tmp_path, cache, ignore)
    assert after != before
    assert "debug.log/keep.txt" in [e.path for e in after.entries]


@pytest.mark.usefixtures("trusted")
def test_records_are_per_root_prefix_and_rules(tmp_path: Path, spy: Spy) -> None:
    """The same directory walked as a root, as a subdirectory and under other rules."""
    make_ignored(tmp_path)
    cache = StatCache()
    for _ in range(2):
        check(tmp_path, cache)
        check(tmp_path, cache, IGNORE)
        check(tmp_path / "a", cache)
        check(tmp_path / "skip", cache, IgnoreMatcher.from_lines(["drop.txt"]))


def test_record_section_round_trip_and_damage() -> None:
    records = {
        "/r\0k\0": dirrecord.DirRecord("a\0b\udcff", "fd", b"\1" * dirrecord.SIGNATURE.size, (b"x", b"")),
        "/other\0k\0sub/": dirrecord.DirRecord("", "", b"", (b"",)),
    }
    count, data = dirrecord.encode(records)
    assert dirrecord.decode(count, memoryview(data)) == records
    assert dirrecord.decode(count, memoryview(data[:-1])) is None
    assert dirrecord.decode(count + 1, memoryview(data)) is None
    assert dirrecord.decode(count, memoryview(data + b"\0")) is None


def test_tree_digest_decodes_what_it_encodes(tmp_path: Path) -> None:
    make(tmp_path)
    (tmp_path / "caf\u00e9 \udcff").write_bytes(b"odd name")
    tree = hash_tree(tmp_path)
    rebuilt = TreeDigest(tree.digest, tree.entries)
    assert rebuilt == tree and hash(rebuilt) == hash(tree)
    assert treehash.encode_entries(tree.entries) == treehash.FORMAT_TAG + b"".join(
        treehash._encode_entry({"file": "f", "dir": "d", "symlink": "l"}[e.kind], e.executable, e.path, e.digest)
        for e in tree.entries
    )
