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

import operator
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, NamedTuple

import blake3

from slcc.errors import InputError
from slcc.hashing.dirrecord import IGNORED, IGNORED_DIR, KEPT, PRUNED, SIGNATURE, SUBDIR, DirRecord
from slcc.hashing.statcache import RACY_NS, StatCache
from slcc.loading.dockerignore import IgnoreMatcher, MatchState

EntryKind = Literal["file", "dir", "symlink"]

FORMAT_TAG = b"slcc-tree-v1\0"
CHUNK = 1 << 20
BIG_CHUNK = 4 << 20

_S_IFMT = 0o170000
_KIND_CHAR = {"file": "f", "dir": "d", "symlink": "l"}
_S_IXUSR = stat.S_IXUSR
_NAME = operator.attrgetter("name")


class TreeEntry(NamedTuple):
    """One entry of a tree. A NamedTuple, not a frozen dataclass: decoding a 10,000-file
    tree builds 10,000 of these and NamedTuple construction is 4x cheaper (5 vs 20 ms)."""

    path: str  # relative, '/' separators
    kind: EntryKind
    executable: bool  # S_IXUSR, files only: the one mode bit git keeps
    digest: str  # BLAKE3 hex for files, link target for symlinks, "" for dirs


class TreeDigest:
    """A tree's digest and its entries (component-wise sorted by path).

    Immutable. A walked tree keeps its canonical encoding and decodes ``entries`` only when
    asked: a no-op build compares digests and never needs the 10,000 entries of a context.
    """

    __slots__ = ("_digest", "_encoded", "_entries")

    def __init__(self, digest: str, entries: tuple[TreeEntry, ...] | None = None, *,
                 encoded: bytes | None = None) -> None:
        if entries is None and encoded is None:
            raise TypeError("TreeDigest needs entries or their encoding")
        self._digest = digest  # BLAKE3 hex of the canonical encoding of the entries
        self._entries = entries
        self._encoded = encoded

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def entries(self) -> tuple[TreeEntry, ...]:
        if self._entries is None:
            self._entries = decode_entries(self._encoded or FORMAT_TAG)
        return self._entries

    def _encoding(self) -> bytes:
        if self._encoded is None:
            self._encoded = encode_entries(self.entries)
        return self._encoded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeDigest):
            return NotImplemented
        return self._digest == other._digest and (
            self._entries == other._entries if self._entries is not None and other._entries is not None
            else self._encoding() == other._encoding()
        )

    def __hash__(self) -> int:
        return hash(self._digest)

    def __repr__(self) -> str:
        return f"TreeDigest(digest={self._digest!r}, entries={self.entries!r})"


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
    return FORMAT_TAG + b"".join(_encode_entry(_KIND_CHAR[e.kind], e.executable, e.path, e.digest) for e in entries)


def _encode_entry(kind: str, executable: bool, path: str, digest: str) -> bytes:
    """One entry of the canonical encoding; the walk appends these directly."""
    if path.isascii() and digest.isascii():  # str lengths are byte lengths
        return f"{kind}{'1' if executable else '0'}{len(path)}:{path}{len(digest)}:{digest}".encode("ascii")
    path_b = path.encode("utf-8", "surrogateescape")
    digest_b = digest.encode("utf-8", "surrogateescape")
    return b"%s%s%d:%s%d:%s" % (kind.encode("ascii"), b"1" if executable else b"0", len(path_b), path_b,
                                 len(digest_b), digest_b)


_KIND_OF: dict[int, EntryKind] = {ord("f"): "file", ord("d"): "dir", ord("l"): "symlink"}


def decode_entries(data: bytes) -> tuple[TreeEntry, ...]:
    """The entries of a canonical encoding (the inverse of ``encode_entries``)."""
    if not data.startswith(FORMAT_TAG):
        raise ValueError("not a slcc tree encoding")
    entries = []
    pos, end = len(FORMAT_TAG), len(data)
    while pos < end:
        kind, executable = _KIND_OF[data[pos]], data[pos + 1] == ord("1")
        fields = []
        pos += 2
        for _ in range(2):
            colon = data.index(b":", pos)
            size = int(data[pos:colon])
            fields.append(data[colon + 1 : colon + 1 + size].decode("utf-8", "surrogateescape"))
            pos = colon + 1 + size
        entries.append(TreeEntry(fields[0], kind, executable, fields[1]))
    return tuple(entries)


def _digest_of(pieces: list[bytes]) -> TreeDigest:
    encoded = FORMAT_TAG + b"".join(pieces)
    return TreeDigest(blake3.blake3(encoded).hexdigest(), encoded=encoded)


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
    """One tree walk; appends the encoded entries, in component-wise order, to ``out``."""

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
        self.out: list[bytes] = []
        # Directory records only for plain walks: with an exclude callable or followed links
        # the result depends on more than a listing and lstat show.
        self.records = cache if cache is not None and exclude is None and not follow_links else None
        patterns = "\n".join(self.ignore.patterns) if self.ignore else ""
        self.key_base = f"{root}\0{blake3.blake3(patterns.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}\0"
        # Taken before any stat: a file with a later mtime/ctime is racily clean.
        self.started_ns = time.time_ns()

    def walk(self, absdir: str, prefix: str, state: MatchState | None) -> bool:
        """Add the entries below ``absdir``; True if any was added."""
        listing = _listing(absdir)
        if listing is None:
            return False  # replaced while we walked: treat as absent
        records = self.records
        if records is None:
            return self._walk_listing(listing, prefix, state, _DirBuild(self.out, None))
        key = self.key_base + prefix
        record = records.dir_record(key)
        if record is not None and _unchanged(record, listing):
            return self._replay(record, listing, prefix, state)
        build = _DirBuild(self.out, self.started_ns - RACY_NS)
        added = self._walk_listing(listing, prefix, state, build)
        records.store_dir(key, build.record(listing))
        return added

    def _replay(self, record: DirRecord, listing: list[os.DirEntry[str]], prefix: str,
                state: MatchState | None) -> bool:
        """An unchanged directory: the record's runs, with the subdirectories walked between them."""
        out, runs = self.out, record.runs
        out.append(runs[0])
        added = bool(runs[0])
        if not record.walks:
            return added
        walked = 0
        for d, kind in zip(listing, record.kinds, strict=True):
            if kind not in (SUBDIR, IGNORED_DIR):
                continue
            rel = prefix + d.name
            child_state = self.ignore.match(rel, state)[1] if self.ignore is not None else state
            if kind == SUBDIR:
                self.walk(d.path, rel + "/", child_state)
            else:
                added = self._visit_ignored_dir(d.path, rel, child_state) or added
            walked += 1
            out.append(runs[walked])
            added = added or bool(runs[walked])
        return added

    def _walk_listing(self, listing: list[os.DirEntry[str]], prefix: str, state: MatchState | None,
                      build: _DirBuild) -> bool:
        """Walk a directory entry by entry (new or changed since its record), noting a new record."""
        ignore, exclude = self.ignore, self.exclude
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
                        added = self._ignored(d, rel, child_state, build) or added
                        continue
                # One lstat answers the kind, the exec bit and the signature.
                st = d.stat(follow_symlinks=False)
                fmt = st.st_mode & _S_IFMT
                if fmt == stat.S_IFDIR:
                    build.walk_next(SUBDIR, _encode_entry("d", False, rel, ""))
                    self.walk(d.path, rel + "/", child_state)
                    added = True
                elif fmt == stat.S_IFLNK and self.follow_links:
                    build.walk_next(SUBDIR, b"")
                    added = self._visit_followed(d.path, rel, child_state) or added
                else:
                    added = build.keep(self._leaf(d.path, rel, st, fmt), st) or added
            except FileNotFoundError:
                build.unsure()  # deleted while we walked
            except OSError as exc:
                raise InputError(f"cannot read: {exc.strerror}", d.path) from None
        build.finish()
        return added

    def _ignored(self, d: os.DirEntry[str], rel: str, state: MatchState | None, build: _DirBuild) -> bool:
        if not d.is_dir(follow_symlinks=False):
            build.skip(IGNORED)
            return False
        if not (self.ignore and self.ignore.may_reinclude_below_state(rel, state)):
            build.skip(PRUNED)
            return False
        build.walk_next(IGNORED_DIR, b"")
        return self._visit_ignored_dir(d.path, rel, state)

    def _leaf(self, abspath: str, rel: str, st: os.stat_result, fmt: int) -> bytes | None:
        """The encoded entry of a file or symlink; None if it vanished."""
        if fmt == stat.S_IFREG:
            return self._file_piece(abspath, rel, st)
        if fmt == stat.S_IFLNK:
            return _encode_entry("l", False, rel, os.readlink(abspath))
        raise InputError(_SPECIAL_FILE, abspath)

    def _visit_followed(self, abspath: str, rel: str, state: MatchState | None) -> bool:
        """A link hashed as what it points to (``follow_links``)."""
        try:
            st = os.stat(abspath)
        except FileNotFoundError:
            raise InputError("dangling symlink in a mapping that follows symlinks", abspath) from None
        if stat.S_ISREG(st.st_mode):
            piece = self._file_piece(abspath, rel, st)
            if piece is not None:
                self.out.append(piece)
            return piece is not None
        if not stat.S_ISDIR(st.st_mode):
            return False
        key = (st.st_dev, st.st_ino)
        if key in self._ancestors:
            raise InputError("symlink loop", abspath)
        self._ancestors.add(key)
        try:
            self.out.append(_encode_entry("d", False, rel, ""))
            self.walk(abspath, rel + "/", state)
        finally:
            self._ancestors.discard(key)
        return True

    def _visit_ignored_dir(self, absdir: str, rel: str, state: MatchState | None) -> bool:
        at = len(self.out)
        if not self.walk(absdir, rel + "/", state):
            return False
        # An ignored directory still comes along as the parent of re-included entries.
        self.out.insert(at, _encode_entry("d", False, rel, ""))
        return True

    def _file_piece(self, abspath: str, rel: str, st: os.stat_result) -> bytes | None:
        cache = self.cache
        digest = cache.lookup(abspath, st) if cache is not None else None
        if digest is None:
            try:
                digest = hash_file(abspath)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise InputError(f"cannot read file: {exc.strerror}", abspath) from None
            if cache is not None:
                cache.store(abspath, st, digest, observed_ns=self.started_ns)
        return _encode_entry("f", bool(st.st_mode & _S_IXUSR), rel, digest)


class _DirBuild:
    """One directory's walk: its runs go to ``out``; the record is noted if ``racy_after`` is set."""

    __slots__ = ("_out", "_racy_after", "_run", "kinds", "runs", "signatures")

    def __init__(self, out: list[bytes], racy_after: int | None) -> None:
        self._out = out
        self._racy_after = racy_after  # None: no record wanted, or no longer possible
        self._run: list[bytes] = []
        self.kinds: list[str] = []
        self.runs: list[bytes] = []
        self.signatures: list[bytes] = []

    def keep(self, piece: bytes | None, st: os.stat_result) -> bool:
        """A file or symlink's entry (None: it vanished); True if one was added."""
        if piece is None:
            self.unsure()
            return False
        self._run.append(piece)
        self.kinds.append(KEPT)
        if self._racy_after is not None:
            if max(st.st_mtime_ns, st.st_ctime_ns) > self._racy_after:
                self._racy_after = None  # racily clean: the next walk must look again
            else:
                self.signatures.append(SIGNATURE.pack(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                                      st.st_mode))
        return True

    def skip(self, kind: str) -> None:
        self.kinds.append(kind)

    def unsure(self) -> None:
        """An entry changed under the walk: no record this time."""
        self._racy_after = None

    def walk_next(self, kind: str, piece: bytes) -> None:
        """``piece`` ends the current run; a walk into a subdirectory follows."""
        self.kinds.append(kind)
        self._run.append(piece)
        self.finish()

    def finish(self) -> None:
        run = b"".join(self._run)
        self._run.clear()
        self.runs.append(run)
        self._out.append(run)

    def record(self, listing: list[os.DirEntry[str]]) -> DirRecord | None:
        if self._racy_after is None or len(self.kinds) != len(listing):
            return None
        return DirRecord("\0".join([d.name for d in listing]), "".join(self.kinds), b"".join(self.signatures),
                         tuple(self.runs))


def _unchanged(record: DirRecord, listing: list[os.DirEntry[str]]) -> bool:
    """Same names, same kinds, same signatures: the walk would produce the record's runs."""
    if "\0".join([d.name for d in listing]) != record.names:
        return False
    pack = SIGNATURE.pack
    parts = []
    try:
        for d, kind in zip(listing, record.kinds, strict=True):
            if kind == KEPT:
                st = d.stat(follow_symlinks=False)
                parts.append(pack(st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode))
            elif d.is_dir(follow_symlinks=False) == (kind == IGNORED):
                return False  # a directory where a file was, or the other way round
    except OSError:
        return False  # vanished since the listing: the full walk sorts it out
    return b"".join(parts) == record.signature


_SPECIAL_FILE = ("special file (FIFO, socket or device) in a build context: slcc cannot hash it; "
                 "remove it or list it in .dockerignore")


def _listing(absdir: str) -> list[os.DirEntry[str]] | None:
    """The entries of ``absdir`` sorted by name; None when it is gone or no longer a directory."""
    try:
        with os.scandir(absdir) as it:
            return sorted(it, key=_NAME)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InputError(f"cannot list directory: {exc.strerror}", absdir) from None


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
    return _digest_of(walker.out)


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
    piece = walker._file_piece(str(resolved), path.name or resolved.name, st)
    return _digest_of([piece] if piece is not None else [])
