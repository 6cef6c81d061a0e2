"""Persistent stat cache: lets an unchanged tree be re-hashed without reading file contents.

An entry maps an absolute path to (size, mtime_ns, inode, ctime_ns) and the file's BLAKE3
digest. ctime and the inode catch a content change whose mtime was put back (``touch -r``,
``git checkout`` of an old blob into the same size): both change on any write or rename.

Racily clean entries (git's term) are never stored: if a file's mtime or ctime is not at
least ``RACY_NS`` older than the moment its stat was taken, a later write in the same
timestamp tick would leave the stat unchanged while the content differs. Such files are
simply hashed again next time; that only costs time for files touched seconds ago.

It also keeps directory records (``DirRecord``, see slcc/hashing/dirrecord.py): what a tree
walk saw in one directory and what it produced there, so an unchanged directory costs one
listing, one stat per kept entry and one comparison. The tree walker decides what a record
holds and when it is clean enough to store; the cache only keeps and persists them.

File format (little endian): ``MAGIC``, u32 version, u32 count, u64 paths length, u32
directory count, u64 directory section length, 32-byte BLAKE3 of the body; then ``count``
records of (i64 size, i64 mtime_ns, u64 inode, i64 ctime_ns, 32-byte digest); then the paths,
UTF-8 with surrogateescape, joined by NUL; then the directory section (``dirrecord.encode``).
The per-file section is decoded on first use only: a re-hash of an unchanged tree never
needs it. Anything that does not check out loads as an empty cache.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path
from typing import TypeVar

import blake3

from slcc.hashing import dirrecord
from slcc.hashing.dirrecord import DirRecord
from slcc.state.atomic import write_bytes_atomic

MAGIC = b"SLCCSTAT"
VERSION = 2
RACY_NS = 2_000_000_000
MAX_ENTRIES = 200_000
MAX_DIRS = 50_000

_HEADER = struct.Struct("<8sIIQIQ32s")
_RECORD = struct.Struct("<qqQq32s")

# (size, mtime_ns, ino, ctime_ns, raw digest)
_Entry = tuple[int, int, int, int, bytes]


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns


class StatCache:
    """Absolute path + stat signature -> content digest, loaded once and saved atomically."""

    __slots__ = ("_dirs", "_dirs_used", "_dirty", "_entries_data", "_loaded", "_path", "_used")

    def __init__(self, path: Path | None = None) -> None:
        """An empty cache that ``save`` writes to ``path`` (None: in memory only)."""
        self._path = path
        self._loaded: dict[str, _Entry] = {}
        self._entries_data: tuple[int, memoryview] | None = None  # (count, section) not decoded yet
        self._used: set[str] = set()
        self._dirs: dict[str, DirRecord] = {}
        self._dirs_used: set[str] = set()
        self._dirty = False

    @property
    def _entries(self) -> dict[str, _Entry]:
        """The per-file entries, decoded from the loaded file on first use."""
        if self._entries_data is not None:
            count, section = self._entries_data
            self._entries_data = None
            self._loaded = _decode_entries(count, section) or {}
        return self._loaded

    @_entries.setter
    def _entries(self, entries: dict[str, _Entry]) -> None:
        self._entries_data = None
        self._loaded = entries

    @classmethod
    def load(cls, path: Path) -> StatCache:
        """Load ``path``; missing, truncated, corrupt or foreign files give an empty cache."""
        cache = cls(path)
        try:
            data = path.read_bytes()
        except OSError:
            return cache
        decoded = _decode(data)
        if decoded is not None:
            cache._entries_data, cache._dirs = decoded
        return cache

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def directories(self) -> int:
        """How many directory records the cache holds."""
        return len(self._dirs)

    def lookup(self, abspath: str, st: os.stat_result) -> str | None:
        """The cached hex digest of ``abspath`` if its stat signature is unchanged."""
        entry = self._entries.get(abspath)
        if (
            entry is None
            or entry[1] != st.st_mtime_ns
            or entry[0] != st.st_size
            or entry[3] != st.st_ctime_ns
            or entry[2] != st.st_ino
        ):
            return None
        self._used.add(abspath)
        return entry[4].hex()

    def store(self, abspath: str, st: os.stat_result, digest: str, *, observed_ns: int | None = None) -> None:
        """Remember ``digest`` for ``abspath`` as stat'ed in ``st``.

        ``observed_ns`` is a wall-clock time taken *before* ``st`` (defaults to now); entries
        whose mtime or ctime is within ``RACY_NS`` of it are racily clean and not stored.
        """
        if observed_ns is None:
            observed_ns = time.time_ns()
        if max(st.st_mtime_ns, st.st_ctime_ns) > observed_ns - RACY_NS:
            self._drop(abspath)
            return
        entry = (*_signature(st), bytes.fromhex(digest))
        if self._entries.get(abspath) != entry:
            self._entries.pop(abspath, None)  # re-insert at the end: newest last
            self._entries[abspath] = entry
            self._dirty = True
        self._used.add(abspath)

    def dir_record(self, key: str) -> DirRecord | None:
        """The record stored for the directory walk ``key`` (the walker builds keys)."""
        record = self._dirs.get(key)
        if record is not None:
            self._dirs_used.add(key)
        return record

    def store_dir(self, key: str, record: DirRecord | None) -> None:
        """Keep ``record`` for ``key``; None forgets the key (the walker saw it change)."""
        self._dirs_used.add(key)
        old = self._dirs.pop(key, None)
        if record is not None:
            self._dirs[key] = record  # (re-)inserted at the end: newest last
        if old != record:
            self._dirty = True

    def _drop(self, abspath: str) -> None:
        if self._entries.pop(abspath, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the cache atomically if it changed; concurrent savers: last one wins."""
        if self._path is None or not self._dirty:
            return
        self._entries = _recent(self._entries, self._used, MAX_ENTRIES)
        self._dirs = _recent(self._dirs, self._dirs_used, MAX_DIRS)
        write_bytes_atomic(self._path, _encode(self._entries, dirrecord.encode(self._dirs)))
        self._dirty = False


_V = TypeVar("_V")


def _recent(items: dict[str, _V], used: set[str], limit: int) -> dict[str, _V]:
    """Items used in this run last (LRU-ish), at most ``limit`` of them."""
    ordered = [kv for kv in items.items() if kv[0] not in used] + [kv for kv in items.items() if kv[0] in used]
    return dict(ordered[-limit:])


def _encode(entries: dict[str, _Entry], dirs: tuple[int, bytes]) -> bytes:
    records = b"".join(_RECORD.pack(*e) for e in entries.values())
    paths = b"\0".join(p.encode("utf-8", "surrogateescape") for p in entries)
    body = records + paths + dirs[1]
    checksum = blake3.blake3(body).digest()
    header = _HEADER.pack(MAGIC, VERSION, len(entries), len(paths), dirs[0], len(dirs[1]), checksum)
    return header + body


def _decode(data: bytes) -> tuple[tuple[int, memoryview], dict[str, DirRecord]] | None:
    """(count, undecoded per-file section) and the directory records; None if it does not check out."""
    if len(data) < _HEADER.size:
        return None
    magic, version, count, paths_len, dir_count, dirs_len, checksum = _HEADER.unpack_from(data)
    body = memoryview(data)[_HEADER.size :]
    split = count * _RECORD.size + paths_len
    if magic != MAGIC or version != VERSION or len(body) != split + dirs_len:
        return None
    if blake3.blake3(body).digest() != checksum:
        return None
    dirs = dirrecord.decode(dir_count, body[split:])
    if dirs is None:
        return None
    return (count, body[:split]), dirs


def _decode_entries(count: int, section: memoryview) -> dict[str, _Entry] | None:
    if count == 0:
        return {}
    split = count * _RECORD.size
    paths = bytes(section[split:]).decode("utf-8", "surrogateescape").split("\0")
    if len(paths) != count:
        return None
    return dict(zip(paths, _RECORD.iter_unpack(section[:split]), strict=True))
