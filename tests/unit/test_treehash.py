"""Tree digests: every image-relevant change changes them, nothing else does (DESIGN.md rule 1)."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TypeAlias

import blake3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slcc.errors import InputError
from slcc.hashing import statcache, treehash
from slcc.hashing.statcache import StatCache
from slcc.hashing.treehash import BIG_CHUNK, CHUNK, TreeEntry, encode_entries, hash_file, hash_path, hash_tree
from slcc.loading.dockerignore import IgnoreMatcher

# --------------------------------------------------------------------------------- tree model


@dataclass
class File:
    content: bytes
    executable: bool = False


@dataclass
class Link:
    target: str


Tree: TypeAlias = "dict[str, File | Link | Tree]"  # a dict is a directory
Node: TypeAlias = "File | Link | Tree"

NAMES = st.sampled_from(["a", "b", "a-b", "a.b", "B", "ü", "x y", "sub"])
FILES = st.builds(File, st.binary(max_size=64), st.booleans())
LINKS = st.builds(Link, st.sampled_from(["a", "../b", "/etc/passwd", "missing", "sub/a", "."]))
TREES = st.recursive(
    st.dictionaries(NAMES, FILES | LINKS, max_size=4),
    lambda children: st.dictionaries(NAMES, FILES | LINKS | children, max_size=4),
    max_leaves=12,
)
SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def materialize(root: Path, tree: Tree) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, node in tree.items():
        path = root / name
        if isinstance(node, dict):
            materialize(path, node)
        elif isinstance(node, Link):
            path.symlink_to(node.target)
        else:
            path.write_bytes(node.content)
            path.chmod(0o755 if node.executable else 0o644)


@contextmanager
def scratch() -> Iterator[Path]:
    # Hypothesis runs many examples per test: a fresh directory each, not tmp_path.
    with tempfile.TemporaryDirectory(prefix="slcc-treehash-") as tmp:
        yield Path(tmp)


def paths_of(tree: Tree, prefix: str = "") -> Iterator[tuple[str, Node]]:
    for name, node in tree.items():
        yield prefix + name, node
        if isinstance(node, dict):
            yield from paths_of(node, prefix + name + "/")


def digest(root: Path, **kwargs: object) -> str:
    return hash_tree(root, **kwargs).digest  # type: ignore[arg-type]


# ------------------------------------------------------------------------- relevant changes


def _files(tree: Tree) -> list[str]:
    return [p for p, n in paths_of(tree) if isinstance(n, File)]


def change_content(root: Path, tree: Tree, pick: int) -> bool:
    files = _files(tree)
    if not files:
        return False
    path = root / files[pick % len(files)]
    data = bytearray(path.read_bytes())
    if data:
        data[pick % len(data)] ^= 1 << (pick % 8)
    else:
        data = bytearray(b"\0")
    path.write_bytes(bytes(data))
    return True


def rename(root: Path, tree: Tree, pick: int) -> bool:
    entries = [p for p, _ in paths_of(tree)]
    if not entries:
        return False
    path = root / entries[pick % len(entries)]
    os.rename(path, path.with_name(path.name + "-renamed"))
    return True


def toggle_exec(root: Path, tree: Tree, pick: int) -> bool:
    files = _files(tree)
    if not files:
        return False
    path = root / files[pick % len(files)]
    path.chmod(path.stat().st_mode ^ stat.S_IXUSR)
    return True


def retarget_link(root: Path, tree: Tree, pick: int) -> bool:
    links = [p for p, n in paths_of(tree) if isinstance(n, Link)]
    if not links:
        return False
    path = root / links[pick % len(links)]
    target = os.readlink(path)
    path.unlink()
    path.symlink_to(target + "x")
    return True


def new_empty_dir(root: Path, tree: Tree, pick: int) -> bool:
    dirs = [""] + [p + "/" for p, n in paths_of(tree) if isinstance(n, dict)]
    (root / (dirs[pick % len(dirs)] + "new-empty")).mkdir()
    return True


def new_file(root: Path, tree: Tree, pick: int) -> bool:
    dirs = [""] + [p + "/" for p, n in paths_of(tree) if isinstance(n, dict)]
    (root / (dirs[pick % len(dirs)] + "new-file")).write_bytes(b"")
    return True


RELEVANT = [change_content, rename, toggle_exec, retarget_link, new_empty_dir, new_file]


@SLOW
@given(tree=TREES, change=st.sampled_from(RELEVANT), pick=st.integers(0, 1000))
def test_relevant_change_changes_digest(tree: Tree, change: Callable[..., bool], pick: int) -> None:
    with scratch() as tmp:
        root = tmp / "ctx"
        materialize(root, tree)
        before = hash_tree(root)
        if not change(root, tree, pick):
            return
        after = hash_tree(root)
        assert after.digest != before.digest
        assert after.entries != before.entries


# ------------------------------------------------------------------------ irrelevant changes


def touch_all(root: Path, tree: Tree, pick: int) -> None:
    for p, node in paths_of(tree):
        if not isinstance(node, Link):
            os.utime(root / p, ns=(pick * 10**9, (pick + 7) * 10**9))


def chmod_group_other(root: Path, tree: Tree, pick: int) -> None:
    for p, node in paths_of(tree):
        if isinstance(node, File):
            path = root / p
            path.chmod(path.stat().st_mode ^ (0o077 & (pick | 1)))


def touch_ignored(root: Path, tree: Tree, pick: int) -> None:
    dirs = [""] + [p + "/" for p, n in paths_of(tree) if isinstance(n, dict)]
    (root / (dirs[pick % len(dirs)] + "junk.ign")).write_bytes(b"%d" % pick)
    ignored_dir = root / (dirs[pick % len(dirs)] + "cache.ign")
    ignored_dir.mkdir(exist_ok=True)
    (ignored_dir / "inner").write_bytes(b"x")


IRRELEVANT = [touch_all, chmod_group_other, touch_ignored]
IGNORE = IgnoreMatcher.from_lines(["**/*.ign"])


@SLOW
@given(tree=TREES, change=st.sampled_from(IRRELEVANT), pick=st.integers(1, 1000))
def test_irrelevant_change_keeps_digest(tree: Tree, change: Callable[..., None], pick: int) -> None:
    with scratch() as tmp:
        root = tmp / "ctx"
        materialize(root, tree)
        before = hash_tree(root, ignore=IGNORE)
        change(root, tree, pick)
        assert hash_tree(root, ignore=IGNORE) == before


@SLOW
@given(tree=TREES)
def test_deterministic_and_location_independent(tree: Tree) -> None:
    with scratch() as tmp:
        materialize(tmp / "one", tree)
        first = hash_tree(tmp / "one")
        assert hash_tree(tmp / "one") == first
        shutil.copytree(tmp / "one", tmp / "elsewhere" / "two", symlinks=True)
        assert hash_tree(tmp / "elsewhere" / "two") == first
        assert [e.path for e in first.entries] == sorted(
            (e.path for e in first.entries), key=lambda p: p.split("/")
        )


PATTERN_POOL = ["a", "*.b", "sub", "!sub/a", "**/a-b", "!**/B", "*/*", "!a.b", "ü/**", "x?y"]


@SLOW
@given(tree=TREES, patterns=st.lists(st.sampled_from(PATTERN_POOL), max_size=4))
def test_walker_agrees_with_is_ignored(tree: Tree, patterns: list[str]) -> None:
    """Pruning and parent states in the walker give what is_ignored says for each path."""
    matcher = IgnoreMatcher.from_lines(patterns)
    with scratch() as tmp:
        root = tmp / "ctx"
        materialize(root, tree)
        got = {e.path for e in hash_tree(root, ignore=matcher).entries if e.kind != "dir"}
    want = {p for p, n in paths_of(tree) if not isinstance(n, dict) and not matcher.is_ignored(p)}
    assert got == want


# ------------------------------------------------------------------------- examples and edges


def test_entries_and_component_order(tmp_path: Path) -> None:
    materialize(tmp_path, {"a": {"b": File(b"1")}, "a-b": File(b"2", True), "a.c": Link("a"), "e": {}})
    tree = hash_tree(tmp_path)
    assert tree.entries == (
        TreeEntry("a", "dir", False, ""),
        TreeEntry("a/b", "file", False, blake3.blake3(b"1").hexdigest()),
        TreeEntry("a-b", "file", True, blake3.blake3(b"2").hexdigest()),
        TreeEntry("a.c", "symlink", False, "a"),
        TreeEntry("e", "dir", False, ""),
    )
    assert tree.digest == blake3.blake3(encode_entries(tree.entries)).hexdigest()
    assert len(tree.digest) == 64


def test_encoding_is_unambiguous() -> None:
    # Naive concatenation would make these two lists the same byte stream.
    one = (TreeEntry("a", "symlink", False, "1:b"),)
    two = (TreeEntry("a", "symlink", False, "1"), TreeEntry(":b", "dir", False, ""))
    assert encode_entries(one) != encode_entries(two)
    assert encode_entries(()) == treehash.FORMAT_TAG


def test_empty_tree(tmp_path: Path) -> None:
    tree = hash_tree(tmp_path)
    assert tree.entries == ()
    assert tree.digest == blake3.blake3(treehash.FORMAT_TAG).hexdigest()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * BIG_CHUNK + 5])
def test_hash_file_matches_blake3(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "f").write_bytes(data)
    assert hash_file(tmp_path / "f") == blake3.blake3(data).hexdigest()
    assert hash_file(str(tmp_path / "f")) == blake3.blake3(data).hexdigest()


def test_symlink_loops_inside_tree_are_just_links(tmp_path: Path) -> None:
    (tmp_path / "self").symlink_to("self")
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "up").symlink_to("..")
    assert [e.kind for e in hash_tree(tmp_path).entries] == ["symlink"] * 4


def test_root_symlink_is_resolved(tmp_path: Path) -> None:
    materialize(tmp_path / "real", {"f": File(b"x")})
    (tmp_path / "link").symlink_to("real")
    assert hash_tree(tmp_path / "link") == hash_tree(tmp_path / "real")


def test_root_symlink_loop_is_input_error(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(InputError, match="loop"):
        hash_tree(tmp_path / "loop")
    with pytest.raises(InputError, match="loop"):
        hash_path(tmp_path / "loop")


def test_missing_root_and_file_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="absent"):
        hash_tree(tmp_path / "absent")
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(InputError, match="not a directory"):
        hash_tree(tmp_path / "f")


def test_special_files_are_refused_unless_ignored(tmp_path: Path) -> None:
    materialize(tmp_path, {"f": File(b"x")})
    before = hash_tree(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="fifo: special file"):
        hash_tree(tmp_path)
    assert hash_tree(tmp_path, ignore=IgnoreMatcher(["fifo", "sock"])) == before
    (tmp_path / "fifo").unlink()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        with pytest.raises(InputError, match="sock: special file"):
            hash_tree(tmp_path)


def test_unreadable_file_is_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret").write_bytes(b"x")

    def denied(path: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(treehash, "hash_file", denied)
    with pytest.raises(InputError, match="secret"):
        hash_tree(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_for_real(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"x")
    (tmp_path / "secret").chmod(0)
    with pytest.raises(InputError, match="secret"):
        hash_tree(tmp_path)


def test_hash_path_of_file_is_one_entry_tree(tmp_path: Path) -> None:
    materialize(tmp_path / "dir", {"tool.sh": File(b"#!/bin/sh\n", True)})
    single = hash_path(tmp_path / "dir" / "tool.sh")
    assert single == hash_tree(tmp_path / "dir")
    assert single.entries == (TreeEntry("tool.sh", "file", True, blake3.blake3(b"#!/bin/sh\n").hexdigest()),)
    assert hash_path(tmp_path / "dir") == hash_tree(tmp_path / "dir")
    (tmp_path / "alias.sh").symlink_to(tmp_path / "dir" / "tool.sh")
    assert hash_path(tmp_path / "alias.sh").entries[0].path == "alias.sh"


def test_ignored_dir_with_reincluded_file_is_listed(tmp_path: Path) -> None:
    materialize(tmp_path, {"docs": {"README.md": File(b"r"), "x.md": File(b"x")}, "build": {"o": File(b"o")}})
    matcher = IgnoreMatcher.from_lines(["docs", "build", "!docs/README.md"])
    assert [e.path for e in hash_tree(tmp_path, ignore=matcher).entries] == ["docs", "docs/README.md"]


def test_exclude_prunes(tmp_path: Path) -> None:
    materialize(tmp_path, {"keep": File(b"k"), "nested": {"deep": File(b"d")}})
    tree = hash_tree(tmp_path, exclude=lambda rel: rel == "nested")
    assert [e.path for e in tree.entries] == ["keep"]


def test_pruned_directories_are_not_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    materialize(tmp_path, {"node_modules": {"m": {"x": File(b"")}}, "src": {"a": File(b"")}})
    listed: list[str] = []
    real_scandir = os.scandir

    def spy(path: str) -> object:
        listed.append(os.path.basename(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", spy)
    hash_tree(tmp_path, ignore=IgnoreMatcher.from_lines(["node_modules", "!src/a"]))
    assert "node_modules" not in listed
    assert "src" in listed


# ------------------------------------------------------------------------------- stat cache


class CountingHash:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, path: str | os.PathLike[str]) -> str:
        self.paths.append(os.fspath(path))
        return hash_file(path)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingHash:
    spy = CountingHash()
    monkeypatch.setattr(treehash, "hash_file", spy)
    return spy


@pytest.fixture
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust stats taken right after a write, as if the files were older than the window."""
    monkeypatch.setattr(statcache, "RACY_NS", 0)


def later_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash as if a second past the racy window had passed since the files were written.

    The real window stays in force: only the walker's notion of "now" moves, so files
    written by the test are older than RACY_NS by both mtime and ctime (backdating with
    utime cannot move ctime).
    """
    later = time.time_ns() + statcache.RACY_NS + 1_000_000_000
    monkeypatch.setattr(treehash, "time", SimpleNamespace(time_ns=lambda: later))


def test_warm_rehash_reads_no_file(tmp_path: Path, counting: CountingHash, monkeypatch: pytest.MonkeyPatch) -> None:
    materialize(tmp_path / "ctx", {"a": File(b"1"), "d": {"b": File(b"2", True), "l": Link("a")}})
    later_clock(monkeypatch)  # after the files exist: they are older than the window
    cache_path = tmp_path / "cache.bin"
    cache = StatCache.load(cache_path)
    cold = hash_tree(tmp_path / "ctx", cache=cache)
    cache.save()
    assert len(counting.paths) == 2
    reloaded = StatCache.load(cache_path)
    assert len(reloaded) == 2  # both regular files were saved to disk and read back
    counting.paths.clear()
    warm = hash_tree(tmp_path / "ctx", cache=reloaded)
    assert counting.paths == []
    assert warm == cold == hash_tree(tmp_path / "ctx")


@pytest.mark.usefixtures("no_racy_window")
@pytest.mark.parametrize("how", ["in-place", "rename-over"])
def test_same_size_restored_mtime_is_caught(tmp_path: Path, how: str) -> None:
    path = tmp_path / "ctx" / "f"
    materialize(tmp_path / "ctx", {"f": File(b"aaaa")})
    cache = StatCache(None)
    before = hash_tree(tmp_path / "ctx", cache=cache)
    old = path.stat()
    time.sleep(0.05)  # past the coarse timestamp tick, so the write gets a new ctime
    if how == "in-place":
        path.write_bytes(b"bbbb")
    else:
        (tmp_path / "ctx" / "tmp").write_bytes(b"bbbb")
        os.replace(tmp_path / "ctx" / "tmp", path)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    assert path.stat().st_mtime_ns == old.st_mtime_ns
    assert path.stat().st_size == old.st_size
    after = hash_tree(tmp_path / "ctx", cache=cache)
    assert after.digest != before.digest
    assert after == hash_tree(tmp_path / "ctx")


def test_racily_clean_files_are_not_cached(tmp_path: Path, counting: CountingHash) -> None:
    # Files written just now have ctime within the racy window: hashed every time.
    materialize(tmp_path / "ctx", {"a": File(b"1")})
    cache_path = tmp_path / "cache.bin"
    cache = StatCache.load(cache_path)
    hash_tree(tmp_path / "ctx", cache=cache)
    cache.save()
    hash_tree(tmp_path / "ctx", cache=StatCache.load(cache_path))
    assert len(counting.paths) == 2


def test_corrupt_cache_file_gives_correct_digest(tmp_path: Path) -> None:
    materialize(tmp_path / "ctx", {"a": File(b"1")})
    (tmp_path / "cache.bin").write_bytes(b"\x00garbage" * 100)
    cache = StatCache.load(tmp_path / "cache.bin")
    assert len(cache) == 0
    assert hash_tree(tmp_path / "ctx", cache=cache) == hash_tree(tmp_path / "ctx")


def test_encoding_is_the_same_for_ascii_runs_and_other_names() -> None:
    """The ASCII fast path of the entry encoding gives the bytes of the general format."""
    from slcc.hashing.treehash import FORMAT_TAG, TreeEntry, encode_entries

    entries = (TreeEntry("a", "dir", False, ""), TreeEntry("a/x.txt", "file", True, "ab" * 32),
               TreeEntry("a/\u00e9t\u00e9", "file", False, "cd" * 32), TreeEntry("a/bad\udcff", "file", False, "00"),
               TreeEntry("a/link", "symlink", False, "../\u00fcber"), TreeEntry("b", "file", False, "ef" * 32))

    def reference(e: TreeEntry) -> bytes:
        path, digest = e.path.encode("utf-8", "surrogateescape"), e.digest.encode("utf-8", "surrogateescape")
        head = {"file": b"f", "dir": b"d", "symlink": b"l"}[e.kind] + (b"1" if e.executable else b"0")
        return head + b"%d:%s%d:%s" % (len(path), path, len(digest), digest)

    assert encode_entries(entries) == FORMAT_TAG + b"".join(reference(e) for e in entries)
