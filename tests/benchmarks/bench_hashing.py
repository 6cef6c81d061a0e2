"""Hashing throughput: cold and warm 10,000-file trees, and one 512 MiB file vs raw BLAKE3.

Warm figures replay directory records (slcc/hashing/dirrecord.py); wall clock on a loaded
machine varies two- to three-fold, so compare with ``valgrind --tool=callgrind`` instructions.

``run(workdir)`` returns flat figures (seconds, MB/s, counts) for tests/benchmarks/run.py;
``python tests/benchmarks/bench_hashing.py [WORKDIR]`` prints them as a table.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import blake3

if __package__ in (None, ""):  # run as a script: make `slcc` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from slcc.hashing.statcache import RACY_NS, StatCache
from slcc.hashing.treehash import hash_file, hash_tree
from slcc.loading.dockerignore import IgnoreMatcher

TREE_FILES = 10_000
BIG_FILE_MIB = 512
MB = 1_000_000


def make_tree(root: Path, files: int = TREE_FILES, seed: int = 1) -> None:
    """``files`` small files (0.1-8 KiB) spread over 100 directories two levels deep."""
    rng = random.Random(seed)
    for i in range(files):
        d = root / f"d{i % 10}" / f"s{(i // 10) % 10}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_bytes(rng.randbytes(rng.randint(100, 8192)))
    old = time.time() - 3600  # older than the racy window, as an unchanged tree would be
    for dirpath, _, names in os.walk(root):
        for n in names:
            os.utime(os.path.join(dirpath, n), (old, old))


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _drop_page_cache_hint(path: Path) -> None:
    # Best effort only: without root the "cold" figures are cold for slcc, warm for the kernel.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def bench_tree(workdir: Path) -> dict[str, float]:
    root = workdir / "tree"
    if not root.exists():
        make_tree(root)
        time.sleep(RACY_NS / 1e9 + 0.1)  # let ctimes age out of the racy window, or nothing is cached
    cache_path = workdir / "statcache.bin"
    cache_path.unlink(missing_ok=True)
    ignore = IgnoreMatcher.from_lines(["*.log", "**/__pycache__", "d9/s9", "!d9/s9/f999.txt"])

    start = time.perf_counter()
    cache = StatCache.load(cache_path)
    cold = hash_tree(root, cache=cache)
    cache.save()
    cold_s = time.perf_counter() - start

    def warm() -> None:
        c = StatCache.load(cache_path)
        assert hash_tree(root, cache=c).digest == cold.digest
        c.save()  # nothing changed: must not write

    warm_s = _best(warm, 5)
    warm_cache = StatCache.load(cache_path)
    load_s = _best(lambda: StatCache.load(cache_path), 5)
    walk_s = _best(lambda: hash_tree(root, cache=warm_cache), 5)
    ignore_s = _best(lambda: hash_tree(root, cache=warm_cache, ignore=ignore), 5)
    nocache_s = _best(lambda: hash_tree(root), 3)
    edit_s = _after_an_edit(root, warm_cache)
    return {
        "tree_files": float(sum(e.kind == "file" for e in cold.entries)),
        "tree_cold_s": cold_s,
        "tree_nocache_s": nocache_s,
        "tree_warm_s": warm_s,
        "tree_warm_walk_only_s": walk_s,
        "tree_warm_with_ignore_s": ignore_s,
        "tree_warm_after_edit_s": edit_s,
        "statcache_load_s": load_s,
        "statcache_bytes": float(cache_path.stat().st_size),
    }


def _after_an_edit(root: Path, cache: StatCache) -> float:
    """Re-hash after one file changed: its directory (100 files) is walked entry by entry again,
    every other directory is replayed from its record. Content is restored afterwards."""
    edited = root / "d0" / "s0" / "f0.txt"
    original = edited.read_bytes()
    edited.write_bytes(original + b"edit")
    try:
        return _best(lambda: hash_tree(root, cache=cache), 5)
    finally:
        edited.write_bytes(original)


def _raw_blake3(data: bytes) -> tuple[float, float]:
    """Seconds for BLAKE3 of a bytes buffer, one thread and all threads: the b3sum-like ceiling."""
    one = _best(lambda: blake3.blake3(data).digest(), 3)
    auto = _best(lambda: blake3.blake3(data, max_threads=blake3.blake3.AUTO).digest(), 3)
    return one, auto


def bench_big_file(workdir: Path) -> dict[str, float]:
    size = BIG_FILE_MIB << 20
    path = workdir / "big.bin"
    if not path.exists() or path.stat().st_size != size:
        with path.open("wb") as f:
            for _ in range(BIG_FILE_MIB // 16):
                f.write(os.urandom(16 << 20))
    raw_s, raw_mt_s = _raw_blake3(path.read_bytes())
    file_s = _best(lambda: hash_file(path), 3)
    mmap_s = _best(lambda: blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(path).digest(), 3)
    _drop_page_cache_hint(path)
    start = time.perf_counter()
    hash_file(path)
    first_s = time.perf_counter() - start
    return {
        "bigfile_mib": float(BIG_FILE_MIB),
        "bigfile_hash_file_MBps": size / file_s / MB,
        "bigfile_after_fadvise_MBps": size / first_s / MB,
        "bigfile_mmap_auto_MBps": size / mmap_s / MB,
        "bigfile_raw_blake3_MBps": size / raw_s / MB,
        "bigfile_raw_blake3_auto_MBps": size / raw_mt_s / MB,
    }


def run(workdir: Path) -> dict[str, float]:
    """All hashing figures; ``workdir`` is scratch space (about 600 MB)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return {**bench_tree(workdir), **bench_big_file(workdir)}


def main(argv: list[str]) -> int:
    if argv:
        results = run(Path(argv[0]))
    else:
        tmp = Path(tempfile.mkdtemp(prefix="slcc-bench-hash-"))
        try:
            results = run(tmp)
        finally:
            shutil.rmtree(tmp)
    width = max(map(len, results))
    for name, value in results.items():
        shown = f"{value * 1000:10.1f} ms" if name.endswith("_s") else f"{value:10.0f}"
        print(f"{name:<{width}}  {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
