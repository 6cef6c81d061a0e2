"""Content hashes of files and directory trees, as BuildKit would transfer them.

A tree digest covers, for every entry that is sent in a build context: its relative path,
its kind (file, dir, symlink), the user-executable bit of files, and the file content
(BLAKE3) or the symlink target. It ignores mtimes, other permission bits, owners, the
absolute location of the root and anything the ignore matcher or ``exclude`` leaves out.

Semantic decisions the rest of slcc relies on:

- Entries are sorted component-wise (a directory comes right before its contents, so
  ``a``, ``a/b``, ``a-b``); components compare by code point, which is UTF-8 byte order.
- Symlinks inside a tree are recorded, never followed (BuildKit sends them as links), so
  loops cannot hang the walk. A root that is a symlink is resolved first. With
  ``follow_links`` (a mapping that opts in, as exaslct copies what links point to) a link
  is hashed as the file or directory it points to; a link back into its own ancestors is
  a symlink loop (InputError), a dangling link an InputError.
- Sockets, FIFOs and device files are refused (InputError naming the path) unless the
  ignore matcher leaves them out: BuildKit sends them in a context, but their content
  cannot be hashed, so a tree holding one could never be judged fresh or stale soundly.
- A directory excluded by the ignore matcher but holding re-included (``!``) entries is
  listed, as BuildKit sends it as their parent; otherwise ignored paths leave no trace.
- ``hash_path`` of a single file is a tree with one entry named by the file's basename,
  so renaming a mapped file changes its hash like renaming a file in a tree does.
- Files that vanish between listing and reading are treated as absent (an editor's
  save-by-rename); unreadable files and directories are an ``InputError``.

Canonical encoding, version-tagged so it can never collide with a later format::

    b"slcc-tree-v1\\0" + for each entry:
        kind byte (f/d/l) + exec byte (1/0) + b"<len>:" path + b"<len>:" digest-or-target

lengths are decimal byte counts, paths and targets UTF-8 (surrogateescape for undecodable
names), so the byte stream determines the entry list and vice versa.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import blake3

from slcc.errors import InputError
from slcc.hashing.statcache import StatCache
from slcc.loading.dockerignore import IgnoreMatcher, MatchState

EntryKind = Literal["file", "dir", "symlink"]

FORMAT_TAG = b"slcc-tree-v1\0"
CHUNK = 1 << 20
BIG_CHUNK = 4 << 20

_S_IFMT = 0o170000
_KIND_BYTE = {"file": b"f", "dir": b"d", "symlink": b"l"}
_KIND_CHAR = {"file": "f", "dir": "d", "symlink": "l"}
_S_IXUSR = stat.S_IXUSR


class TreeEntry(NamedTuple):
    """One entry of a tree. A NamedTuple, not a frozen dataclass: a warm re-hash builds
    10,000 of these and NamedTuple construction is 4x cheaper (measured: 5 vs 20 ms)."""

    path: str  # relative, '/' separators
    kind: EntryKind
    executable: bool  # S_IXUSR, files only: the one mode bit git keeps
    digest: str  # BLAKE3 hex for files, link target for symlinks, "" for dirs


@dataclass(frozen=True, slots=True)
class TreeDigest:
    digest: str  # BLAKE3 hex of the canonical encoding of ``entries``
    entries: tuple[TreeEntry, ...]  # component-wise sorted by path


def hash_file(path: str | os.PathLike[str]) -> str:
    """BLAKE3 hex digest of a regular file's content.

    Files under 1 MiB take one read. Bigger ones stream in 4 MiB chunks into one reused
    buffer, hashed with ``max_threads=AUTO`` (4 MiB per update is enough for BLAKE3's
    threads to split; 16 MiB chunks fell out of cache). Measured on a loaded 2-core VM:
    2.0-2.7 GB/s, single-thread BLAKE3 on a buffer 2.3-2.6 GB/s. mmap + AUTO ranged from
    equal to 2x faster, but a file truncated while mapped kills the process with SIGBUS,
    which watch mode (files edited while hashed) must survive. Figures:
    tests/benchmarks/bench_hashing.py.
    """
    # O_NONBLOCK: a FIFO swapped in after the listing must not block the open.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("not a regular file", os.fsdecode(path))
        if st.st_size < CHUNK:
            return _hash_small(fd, st.st_size)
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        buf = bytearray(BIG_CHUNK)
        view = memoryview(buf)
        while n := os.readv(fd, (buf,)):
            hasher.update(view[:n])
        return hasher.hexdigest()
    finally:
        os.close(fd)


def _hash_small(fd: int, size: int) -> str:
    # One read when the size is right; loop in case the file grew meanwhile.
    hasher = blake3.blake3()
    chunk = os.read(fd, size + 1)
    while chunk:
        hasher.update(chunk)
        chunk = os.read(fd, CHUNK)
    return hasher.hexdigest()


def encode_entries(entries: tuple[TreeEntry, ...]) -> bytes:
    """The canonical byte stream of ``entries`` (see the module docstring)."""
    parts = [FORMAT_TAG]
    ascii_parts: list[str] = []
    for e in entries:
        if e.path.isascii() and e.digest.isascii():  # str lengths are byte lengths: format once, encode once
            ascii_parts.append(f"{_KIND_CHAR[e.kind]}{'1' if e.executable else '0'}{len(e.path)}:{e.path}"
                               f"{len(e.digest)}:{e.digest}")
            continue
        if ascii_parts:
            parts.append("".join(ascii_parts).encode("ascii"))
            ascii_parts.clear()
        path = e.path.encode("utf-8", "surrogateescape")
        digest = e.digest.encode("utf-8", "surrogateescape")
        head = _KIND_BYTE[e.kind] + (b"1" if e.executable else b"0")
        parts.append(b"%s%d:%s%d:%s" % (head, len(path), path, len(digest), digest))
    if ascii_parts:
        parts.append("".join(ascii_parts).encode("ascii"))
    return b"".join(parts)


def _digest_of(entries: list[TreeEntry]) -> TreeDigest:
    frozen = tuple(entries)
    return TreeDigest(blake3.blake3(encode_entries(frozen)).hexdigest(), frozen)


def _resolve_root(path: Path) -> Path:
    """Absolute, symlink-free root; a missing path or a symlink loop is bad input."""
    if path.is_absolute() and not os.path.islink(path) and os.path.isdir(path) and ".." not in path.parts:
        return path  # already usable as is (the flavor loader hands over resolved paths)
    try:
        return path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 reports symlink loops this way
        raise InputError("symlink loop", path) from None
    except OSError as exc:
        raise InputError(exc.strerror or "cannot resolve path", path) from None


class _Walker:
    """One tree walk; collects entries in component-wise order."""

    def __init__(
        self,
        root: str,
        ignore: IgnoreMatcher | None,
        cache: StatCache | None,
        exclude: Callable[[str], bool] | None,
        follow_links: bool = False,
    ) -> None:
        self.root = root
        self.follow_links = follow_links
        self._ancestors: set[tuple[int, int]] = set()
        self.ignore = ignore if ignore else None  # an empty matcher costs a call per entry
        self.cache = cache
        self.exclude = exclude
        self.entries: list[TreeEntry] = []
        # Taken before any stat: a file with a later mtime/ctime is racily clean.
        self.started_ns = time.time_ns()

    def walk(self, absdir: str, prefix: str, state: MatchState | None) -> bool:
        """Add the entries below ``absdir``; True if any was added. The hot loop: keep it lean."""
        listing = _listing(absdir)
        if listing is None:
            return False  # replaced while we walked: treat as absent
        ignore, exclude, append = self.ignore, self.exclude, self.entries.append
        lookup = self.cache.lookup if self.cache is not None else None
        new_entry = tuple.__new__  # TreeEntry without its Python-level __new__
        added = False
        child_state: MatchState | None = state
        for d in listing:
            rel = prefix + d.name
            if exclude is not None and exclude(rel):
                continue
            try:
                if ignore is not None:
                    ignored, child_state = ignore.match(rel, state)
                    if ignored:
                        if d.is_dir(follow_symlinks=False):
                            added = self._visit_ignored_dir(d.path, rel, child_state) or added
                        continue
                # One lstat answers the kind, the exec bit and the cache key.
                st = d.stat(follow_symlinks=False)
                fmt = st.st_mode & _S_IFMT
                if fmt == stat.S_IFREG:
                    # The warm path inline (a method call per file is a tenth of a re-hash).
                    digest = lookup(d.path, st) if lookup is not None else None
                    if digest is None:
                        added = self._visit_file(d.path, rel, st) or added
                    else:
                        append(new_entry(TreeEntry, (rel, "file", bool(st.st_mode & _S_IXUSR), digest)))
                        added = True
                elif fmt == stat.S_IFDIR:
                    append(TreeEntry(rel, "dir", False, ""))
                    self.walk(d.path, rel + "/", child_state)
                    added = True
                elif fmt == stat.S_IFLNK and self.follow_links:
                    added = self._visit_followed(d.path, rel, child_state) or added
                elif fmt == stat.S_IFLNK:
                    append(TreeEntry(rel, "symlink", False, os.readlink(d.path)))
                    added = True
                else:
                    raise InputError(_SPECIAL_FILE, d.path)
            except FileNotFoundError:
                continue  # deleted while we walked
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", d.path) from None
        return added

    def _visit_followed(self, abspath: str, rel: str, state: MatchState | None) -> bool:
        """A link hashed as what it points to (``follow_links``)."""
        try:
            st = os.stat(abspath)
        except FileNotFoundError:
            raise InputError("dangling symlink in a mapping that follows symlinks", abspath) from None
        if stat.S_ISREG(st.st_mode):
            return self._visit_file(abspath, rel, st)
        if not stat.S_ISDIR(st.st_mode):
            return False
        key = (st.st_dev, st.st_ino)
        if key in self._ancestors:
            raise InputError("symlink loop", abspath)
        self._ancestors.add(key)
        try:
            self.entries.append(TreeEntry(rel, "dir", False, ""))
            self.walk(abspath, rel + "/", state)
        finally:
            self._ancestors.discard(key)
        return True

    def _visit_ignored_dir(self, absdir: str, rel: str, state: MatchState | None) -> bool:
        if not (self.ignore and self.ignore.may_reinclude_below_state(rel, state)):
            return False
        at = len(self.entries)
        if not self.walk(absdir, rel + "/", state):
            return False
        # An ignored directory still comes along as the parent of re-included entries.
        self.entries.insert(at, TreeEntry(rel, "dir", False, ""))
        return True

    def _visit_file(self, abspath: str, rel: str, st: os.stat_result) -> bool:
        cache = self.cache
        digest = cache.lookup(abspath, st) if cache is not None else None
        if digest is None:
            try:
                digest = hash_file(abspath)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise InputError(f"cannot read file: {exc.strerror}", abspath) from None
            if cache is not None:
                cache.store(abspath, st, digest, observed_ns=self.started_ns)
        self.entries.append(TreeEntry(rel, "file", bool(st.st_mode & stat.S_IXUSR), digest))
        return True


_SPECIAL_FILE = ("special file (FIFO, socket or device) in a build context: slcc cannot hash it; "
                 "remove it or list it in .dockerignore")


def _listing(absdir: str) -> list[os.DirEntry[str]] | None:
    """The entries of ``absdir`` sorted by name; None when it is gone or no longer a directory."""
    try:
        with os.scandir(absdir) as it:
            return sorted(it, key=_name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InputError(f"cannot list directory: {exc.strerror}", absdir) from None


def _name(d: os.DirEntry[str]) -> str:
    return d.name


def hash_tree(
    root: Path,
    *,
    ignore: IgnoreMatcher | None = None,
    cache: StatCache | None = None,
    exclude: Callable[[str], bool] | None = None,
    follow_links: bool = False,
) -> TreeDigest:
    """Digest of the directory ``root`` as a build context.

    ``ignore`` applies .dockerignore rules; ``exclude(relpath)`` returning True drops an
    entry and, for a directory, everything below it. ``cache`` skips reading files whose
    stat is unchanged; the caller saves it. Raises InputError for a missing root, a root
    that is not a directory, symlink loops at the root and unreadable entries.
    """
    resolved = _resolve_root(root)
    if not resolved.is_dir():
        raise InputError("not a directory", root)
    walker = _Walker(str(resolved), ignore, cache, exclude, follow_links)
    if follow_links:
        st = os.stat(resolved)
        walker._ancestors.add((st.st_dev, st.st_ino))
    walker.walk(walker.root, "", None)
    return _digest_of(walker.entries)


def hash_path(
    path: Path,
    *,
    ignore: IgnoreMatcher | None = None,
    cache: StatCache | None = None,
    exclude: Callable[[str], bool] | None = None,
) -> TreeDigest:
    """``hash_tree`` for a directory; a file is a one-entry tree named by its basename.

    For a file, ``ignore`` and ``exclude`` do not apply: the caller named it explicitly.
    """
    resolved = _resolve_root(path)
    if resolved.is_dir():
        return hash_tree(resolved, ignore=ignore, cache=cache, exclude=exclude)
    try:
        st = resolved.stat()
    except OSError as exc:
        raise InputError(exc.strerror or "cannot stat", path) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file or directory", path)
    walker = _Walker(str(resolved.parent), None, cache, None)
    # The name the caller gave, not the target's: a renamed link is a renamed file.
    walker._visit_file(str(resolved), path.name or resolved.name, st)
    return _digest_of(walker.entries)
