"""Faults while writing an export are one line: a broken tar from BuildKit, a disk that refuses the file."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from slcc.commands.export import _Archive, _write_or_fail
from slcc.errors import EngineError, WriteError


def _item(directory: Path) -> _Archive:
    archive = directory / "f-s-0123.tar.gz"
    return _Archive(None, archive, archive.with_name(archive.name + ".sha512sum"))


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("etc/os-release")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"x=1"))
    return buf.getvalue()


def test_unreadable_tar_is_an_engine_error_and_leaves_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "raw.tar"
    raw.write_bytes(b"this is not a tar archive" * 40)
    out = tmp_path / "out"
    with pytest.raises(EngineError, match="tar of the image is unreadable"):
        _write_or_fail(raw, _item(out), "slcc/f:s-0123")
    assert not out.exists() or not any(out.iterdir())


def test_disk_refusing_the_archive_is_a_write_error_naming_the_path(tmp_path: Path) -> None:
    raw = tmp_path / "raw.tar"
    raw.write_bytes(_tar())
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(WriteError, match="file"):
        _write_or_fail(raw, _item(tmp_path / "file" / "out"), "slcc/f:s-0123")


def test_good_tar_is_written(tmp_path: Path) -> None:
    raw = tmp_path / "raw.tar"
    raw.write_bytes(_tar())
    item = _item(tmp_path / "out")
    stats = _write_or_fail(raw, item, "slcc/f:s-0123")
    assert item.archive.is_file() and item.checksum.is_file() and stats.size == item.archive.stat().st_size
