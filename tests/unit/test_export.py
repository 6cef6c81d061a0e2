"""The pure parts of `slcc export` (tar filtering, gzip, checksum) and `slcc test` (log reading)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from slcc.commands import export
from slcc.commands.export import (
    checksum_line,
    filter_rootfs,
    is_complete,
    is_dropped,
    member_path,
    parse_checksum,
    write_archive,
)
from slcc.commands.flavor_test import FlavorTestResult, failure_output

LONG_NAME = "usr/share/" + "x" * 120 + "/file.txt"


def _add(tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"",
         **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mtime = 1_700_000_000
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def rootfs_tar() -> bytes:
    """A small image filesystem as BuildKit's tar output has it (no leading ./, dirs first)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "dev", "dev/pts", "etc", "proc", "sys", "var", "var/lib", "var/lib/dpkg",
                  "var/lib/dpkg/info", "var/lib/apt", "var/lib/apt/lists", "var/cache", "var/cache/apt"):
            _add(tar, d, tarfile.DIRTYPE)
        _add(tar, "bin/busybox", data=b"\x7fELF busybox", mode=0o755)
        _add(tar, "bin/sh", tarfile.SYMTYPE, linkname="/bin/busybox")
        _add(tar, "bin/ash", tarfile.LNKTYPE, linkname="bin/busybox")
        _add(tar, "dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)
        _add(tar, "dev/fd", tarfile.SYMTYPE, linkname="/proc/self/fd")
        _add(tar, "proc/leftover", data=b"x")
        _add(tar, "etc/hosts", data=b"127.0.0.1 buildhost\n")
        _add(tar, "etc/resolv.conf", data=b"nameserver 10.0.0.1\n")
        _add(tar, "etc/hostname", data=b"kept\n")
        _add(tar, "var/lib/dpkg/status", data=b"Package: busybox\n")
        _add(tar, "var/lib/dpkg/info/busybox.list", data=b"/bin/busybox\n")
        _add(tar, "var/lib/apt/lists/deb.debian.org_Release", data=b"r")
        _add(tar, "var/cache/apt/pkgcache.bin", data=b"c")
        _add(tar, "var/lib/dpkg-keep.txt", data=b"a sibling, not inside var/lib/dpkg")
        _add(tar, "usr/bin/dpkg-alias", tarfile.LNKTYPE, linkname="var/lib/dpkg/status")  # to a dropped file
        _add(tar, LONG_NAME, data=b"long")
        _add(tar, "usr/bin/ping", data=b"ping", pax_headers={"SCHILY.xattr.security.capability": "cap"})
    return buf.getvalue()


KEPT = {
    "bin", "dev", "etc", "proc", "sys", "var", "var/lib", "var/cache",
    "bin/busybox", "bin/sh", "bin/ash", "etc/hostname", "var/lib/dpkg-keep.txt", LONG_NAME,
    "usr/bin/ping",
}
ADDED = {"etc/resolv.conf", "etc/hosts", "exasol-manifest.json"}  # exaslct's layout


def filtered(raw: bytes) -> tuple[bytes, export.ArchiveStats]:
    out = io.BytesIO()
    stats = filter_rootfs(io.BytesIO(raw), out)
    return out.getvalue(), stats


@pytest.mark.parametrize(
    ("name", "path"),
    [
        pytest.param("bin/sh", "bin/sh", id="plain"),
        pytest.param("./bin/sh", "bin/sh", id="dot-slash"),
        pytest.param("/bin/sh", "bin/sh", id="absolute"),
        pytest.param("././dev/", "dev", id="repeated-and-trailing"),
        pytest.param(".profile", ".profile", id="dotfile-kept-intact"),
    ],
)
def test_member_path(name: str, path: str) -> None:
    assert member_path(name) == path


@pytest.mark.parametrize(
    ("name", "dropped"),
    [
        pytest.param("dev", False, id="dev-dir-kept"),
        pytest.param("dev/null", True, id="device"),
        pytest.param("./dev/pts", True, id="dev-subdir"),
        pytest.param("proc/self", True, id="proc"),
        pytest.param("sys/kernel", True, id="sys"),
        pytest.param("var/lib/dpkg", True, id="dpkg-dir-dropped-like-exaslct"),
        pytest.param("var/cache/apt/", True, id="apt-cache-dir"),
        pytest.param("var/cache", False, id="var-cache-kept"),
        pytest.param("var/lib/dpkg/status", True, id="dpkg-status"),
        pytest.param("var/lib/dpkgx/status", False, id="dpkg-prefix-only"),
        pytest.param("var/lib/apt/lists/x", True, id="apt-lists"),
        pytest.param("var/cache/apt/archives/a.deb", True, id="apt-cache"),
        pytest.param("etc/hosts", True, id="hosts"),
        pytest.param("/etc/resolv.conf", True, id="resolv"),
        pytest.param("etc/hosts.allow", False, id="hosts-prefix-only"),
        pytest.param("usr/share/dev/null", False, id="dev-not-at-root"),
    ],
)
def test_is_dropped(name: str, dropped: bool) -> None:
    assert is_dropped(name) is dropped


def test_filter_drops_exactly_the_documented_members_and_keeps_content() -> None:
    data, stats = filtered(rootfs_tar())
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == KEPT | ADDED
        assert [m.name for m in tar.getmembers()][-3:] == ["etc/resolv.conf", "etc/hosts", "exasol-manifest.json"]
        assert members["etc/resolv.conf"].issym() and members["etc/resolv.conf"].linkname == "/conf/resolv.conf"
        assert members["etc/hosts"].issym() and members["etc/hosts"].linkname == "/conf/hosts"
        assert tar.extractfile("exasol-manifest.json").read() == b"{}\n"  # type: ignore[union-attr]
        assert tar.extractfile("bin/busybox").read() == b"\x7fELF busybox"  # type: ignore[union-attr]
        assert members["bin/busybox"].mode == 0o755
        assert members["bin/busybox"].mtime == 1_700_000_000
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "/bin/busybox"
        assert members["bin/ash"].islnk() and members["bin/ash"].linkname == "bin/busybox"
        assert members["dev"].isdir() and members["proc"].isdir() and "var/lib/dpkg" not in members
        assert members["usr/bin/ping"].pax_headers["SCHILY.xattr.security.capability"] == "cap"
    assert stats.kept == len(KEPT | ADDED)
    assert stats.dropped == 16


def test_layout_without_etc_adds_the_directory_for_the_links() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "bin", tarfile.DIRTYPE)
        _add(tar, "exasol-manifest.json", data=b'{"from": "the image"}')
    data, _ = filtered(buf.getvalue())
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert [m.name for m in tar.getmembers()] == ["bin", "etc", "etc/resolv.conf", "etc/hosts",
                                                      "exasol-manifest.json"]
        assert tar.extractfile("exasol-manifest.json").read() == b"{}\n"  # type: ignore[union-attr]


def test_archive_is_deterministic_gzip_with_no_name_and_mtime_zero() -> None:
    first, stats = filtered(rootfs_tar())
    second, _ = filtered(rootfs_tar())
    assert first == second
    assert first[:2] == b"\x1f\x8b"
    assert first[3] & 0x08 == 0  # FNAME flag: no (temp) file name in the header
    assert first[4:8] == b"\0\0\0\0"  # mtime 0
    assert stats.size == len(first)
    assert stats.sha512 == hashlib.sha512(first).hexdigest()
    assert gzip.decompress(first)  # a complete gzip stream


def test_filter_streams_large_files_without_loading_them(tmp_path: Path) -> None:
    raw = tmp_path / "big.tar"
    payload = os.urandom(1 << 16) * 64  # 4 MiB
    with tarfile.open(raw, "w") as tar:
        _add(tar, "opt/big.bin", data=payload)
    archive, checksum = tmp_path / "a.tar.gz", tmp_path / "a.tar.gz.sha512sum"
    write_archive(raw, archive, checksum)
    with tarfile.open(archive, "r:gz") as tar:
        assert tar.extractfile("opt/big.bin").read() == payload  # type: ignore[union-attr]


def test_checksum_file_is_what_sha512sum_checks(tmp_path: Path) -> None:
    raw = tmp_path / "raw.tar"
    raw.write_bytes(rootfs_tar())
    archive = tmp_path / "demo-app-0123.tar.gz"
    checksum = tmp_path / "demo-app-0123.tar.gz.sha512sum"
    stats = write_archive(raw, archive, checksum)
    assert checksum.read_text() == f"{stats.sha512}  demo-app-0123.tar.gz\n"
    check = subprocess.run(["sha512sum", "-c", checksum.name], cwd=tmp_path, capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0 and "demo-app-0123.tar.gz: OK" in check.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name, checksum.name, "raw.tar"]  # no temp files
    mode = archive.stat().st_mode & 0o777
    assert mode & 0o044 == 0o044 & ~_umask()  # readable like any file the user writes, not mkstemp's 0600


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(checksum_line("a" * 128, "f.tar.gz"), "a" * 128, id="text-mode"),
        pytest.param(f"{'B' * 128} *f.tar.gz\n", "b" * 128, id="binary-mode"),
        pytest.param(checksum_line("a" * 128, "other.tar.gz"), None, id="other-file"),
        pytest.param(checksum_line("a" * 127, "f.tar.gz"), None, id="short-digest"),
        pytest.param("", None, id="empty"),
    ],
)
def test_parse_checksum(text: str, expected: str | None) -> None:
    assert parse_checksum(text, "f.tar.gz") == expected


def test_is_complete_only_for_a_matching_pair(tmp_path: Path) -> None:
    raw = tmp_path / "raw.tar"
    raw.write_bytes(rootfs_tar())
    archive, checksum = tmp_path / "x.tar.gz", tmp_path / "x.tar.gz.sha512sum"
    assert not is_complete(archive, checksum)
    write_archive(raw, archive, checksum)
    assert is_complete(archive, checksum)
    good = archive.read_bytes()
    archive.write_bytes(good[:-10])  # truncated
    assert not is_complete(archive, checksum)
    archive.write_bytes(good)
    checksum.unlink()  # a crash between archive and checksum
    assert not is_complete(archive, checksum)


def _member_boundary(raw: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return tar.getmembers()[20].offset


@pytest.mark.parametrize("cut", [pytest.param(lambda raw: 3001, id="inside-a-header"),
                                 pytest.param(_member_boundary, id="at-a-member-boundary")])
def test_a_truncated_tar_leaves_no_archive_and_no_temp_file(tmp_path: Path, cut: Callable[[bytes], int]) -> None:
    raw = tmp_path / "raw.tar"
    data = rootfs_tar()
    raw.write_bytes(data[:cut(data)])
    archive, checksum = tmp_path / "x.tar.gz", tmp_path / "x.tar.gz.sha512sum"
    with pytest.raises(tarfile.TarError):
        write_archive(raw, archive, checksum)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.tar"]


# --- slcc test: reading the bake log ---------------------------------------------------------

SINGLE_TARGET_LOG = """\
#0 building with "default" instance using docker driver

#6 importing cache manifest from local:1000
#6 ERROR: failed to configure local cache importer: not found

#7 [1/2] RUN echo "checking"; cat /base.txt; grep -q nothere /base.txt
#7 0.285 checking
#7 0.289 hello
#7 0.289 main v1
#7 ERROR: process "/bin/sh -c grep -q nothere /base.txt" did not complete successfully: exit code: 1
------
 > [1/2] RUN echo "checking"; cat /base.txt; grep -q nothere /base.txt:
0.285 checking
------
ERROR: failed to solve: process "/bin/sh -c grep -q nothere /base.txt" did not complete successfully: exit code: 1
"""


def test_failure_output_is_what_the_instruction_printed(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text(SINGLE_TARGET_LOG)
    instruction = 'RUN echo "checking"; cat /base.txt; grep -q nothere /base.txt'
    assert failure_output(log, instruction) == ("checking", "hello", "main v1")
    assert failure_output(log, instruction, lines=1) == ("main v1",)


@pytest.mark.parametrize(
    ("result", "summary"),
    [
        pytest.param(FlavorTestResult("demo", "test", True, False, "r/demo:test-h", "h" * 64, 1.25),
                     "PASS demo/test (r/demo:test-h) in 1.2 s", id="pass"),
        pytest.param(FlavorTestResult("demo", "test", True, True, "r/demo:test-h", "h" * 64, 0.1),
                     f"PASS demo/test (r/demo:test-h) (cached: tests already passed for hash {'h' * 32})",
                     id="cached"),
        pytest.param(FlavorTestResult("demo", "test", False, False, "t", "h", 2.0, "at `RUN false`: exit 1",
                                      Path("/l/build.log")),
                     "FAIL demo/test at `RUN false`: exit 1; log: /l/build.log", id="fail"),
    ],
)
def test_summary_lines(result: FlavorTestResult, summary: str) -> None:
    assert result.summary() == summary
