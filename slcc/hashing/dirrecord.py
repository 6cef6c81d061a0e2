"""Directory records: what one tree walk saw in one directory and what it produced there.

A record lets a re-hash skip everything but a listing and one ``lstat`` per kept entry of an
unchanged directory: if the names, the kinds and the stat signatures of the entries are what
the record holds, the directory's part of the tree encoding is the record's, byte for byte.

- ``names``: the entry names in walk order, joined by NUL (compared in one go).
- ``kinds``: one character per entry, what the walk did with it (``KEPT`` ... ``PRUNED``).
- ``signature``: ``SIGNATURE.pack(ino, size, mtime_ns, ctime_ns, mode)`` of each KEPT entry
  (files and symlinks), concatenated. The mode covers kind and exec bit; a content change
  moves mtime or ctime, a replaced file or link the inode or ctime.
- ``runs``: the encoded entries between the walks into subdirectories: ``runs[0]``, then the
  first SUBDIR's walk, ``runs[1]``, and so on (a SUBDIR's own entry closes the run before it).

Subdirectories carry no signature here: a file edited below them leaves their stat alone,
so each has its own record. The walker stores a record only when every KEPT entry is older
than the racy window (slcc/hashing/statcache.py), so a same-tick edit cannot hide.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

KEPT = "f"  # a file or symlink: in ``signature``, encoded in a run
SUBDIR = "d"  # a directory: its entry ends a run, its walk follows
IGNORED_DIR = "i"  # ignored, but an exception may re-include something below: walked
IGNORED = "-"  # ignored and not a directory: left out
PRUNED = "x"  # ignored directory nothing below can be re-included from: left out

SIGNATURE = struct.Struct("<QqqqI")
_HEAD = struct.Struct("<IIIII")  # key, names, kinds, signature, runs: byte lengths / count
_RUN = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class DirRecord:
    names: str
    kinds: str
    signature: bytes
    runs: tuple[bytes, ...]

    @property
    def walks(self) -> int:
        """How many walks into subdirectories the runs are interleaved with."""
        return len(self.runs) - 1


def encode(records: dict[str, DirRecord]) -> tuple[int, bytes]:
    """(count, bytes) of ``records``; the stat cache file's last section."""
    parts: list[bytes] = []
    for key, rec in records.items():
        key_b = key.encode("utf-8", "surrogateescape")
        names_b = rec.names.encode("utf-8", "surrogateescape")
        kinds_b = rec.kinds.encode("ascii")
        parts.append(_HEAD.pack(len(key_b), len(names_b), len(kinds_b), len(rec.signature), len(rec.runs)))
        parts.extend(_RUN.pack(len(run)) for run in rec.runs)
        parts += [key_b, names_b, kinds_b, rec.signature, *rec.runs]
    return len(records), b"".join(parts)


def decode(count: int, data: memoryview) -> dict[str, DirRecord] | None:
    """The records ``encode`` wrote; None when the section does not add up."""
    records: dict[str, DirRecord] = {}
    pos = 0
    try:
        for _ in range(count):
            key_n, names_n, kinds_n, sig_n, run_count = _HEAD.unpack_from(data, pos)
            pos += _HEAD.size
            run_lengths = struct.unpack_from(f"<{run_count}I", data, pos)
            pos += 4 * run_count
            fields = []
            for n in (key_n, names_n, kinds_n, sig_n, *run_lengths):
                if pos + n > len(data):
                    return None
                fields.append(bytes(data[pos : pos + n]))
                pos += n
            key, names, kinds, sig = fields[:4]
            records[key.decode("utf-8", "surrogateescape")] = DirRecord(
                names.decode("utf-8", "surrogateescape"), kinds.decode("ascii"), sig, tuple(fields[4:])
            )
    except (struct.error, UnicodeDecodeError):
        return None
    return records if pos == len(data) else None
