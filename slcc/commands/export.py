"""`slcc export`: a flavor's release filesystem as ``<flavor>-<step>-<hash>.tar.gz`` + ``.sha512sum``.

Pipeline: hash the flavor; when the archive for the goal's hash already exists and its
checksum file matches, stop (no engine call at all). Otherwise build the goal with the
normal build pipeline (only stale steps), then run a one-target bake whose Dockerfile is
``FROM <goal tag>`` with BuildKit's tar output, so the archive holds exactly the image that
carries the hash tag (never a rebuild of it). The raw tar is filtered and gzipped in one
streaming pass (see :data:`DROPPED_CONTENTS` and :data:`DROPPED_FILES`), written via a temp
file and ``os.replace``; the checksum file is written only after the archive is complete.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from slcc.commands.build import BuildIO, BuildOptions, build
from slcc.commands.builders import bake_target, remote_builder
from slcc.emitting import emit, hcl
from slcc.engine.protocol import BakeRequest, Cancelled
from slcc.errors import EngineError, InputError, WriteError
from slcc.loading.config import check_dir_path
from slcc.loading.project import Project
from slcc.model import Flavor
from slcc.state.atomic import write_text_atomic
from slcc.state.store import State
from slcc.vocabulary import Progress

# exaslct's export layout (ExportContainerToCacheTask): `tar -x --exclude` of dev/* proc/*
# etc/resolv.conf etc/hosts var/cache/apt var/lib/apt var/lib/dpkg (the last three with the
# directory itself), then /etc/resolv.conf and /etc/hosts as symlinks to /conf/ (the database
# mounts its own there) and exasol-manifest.json ("{}") appended. slcc also empties sys/,
# another kernel mount point (dev, proc and sys stay as empty directories).
DROPPED_CONTENTS: tuple[str, ...] = ("dev", "proc", "sys")
DROPPED_TREES: tuple[str, ...] = ("var/cache/apt", "var/lib/apt", "var/lib/dpkg")
# Written per container by the runtime; the image's copies are leftovers of the build host.
DROPPED_FILES: frozenset[str] = frozenset({"etc/resolv.conf", "etc/hosts"})
CONF_LINKS: tuple[tuple[str, str], ...] = (("etc/resolv.conf", "/conf/resolv.conf"), ("etc/hosts", "/conf/hosts"))
MANIFEST = ("exasol-manifest.json", b"{}\n")
GZIP_LEVEL = 6  # gzip's own default: level 9 costs about twice the time for ~1% size
_CHUNK = 1 << 20
_END_MARKER = 2 * tarfile.BLOCKSIZE


# --- the pure part: filter, gzip, checksum ---------------------------------------------------


def member_path(name: str) -> str:
    """A tar member name as a path relative to the root: no leading ``/`` or ``./``."""
    path = name
    while path.startswith(("./", "/")):
        path = path[1:] if path.startswith("/") else path[2:]
    return path.rstrip("/")


def is_dropped(name: str) -> bool:
    """Whether the member ``name`` stays out of the exported archive."""
    path = member_path(name)
    return (path in DROPPED_FILES or any(path.startswith(d + "/") for d in DROPPED_CONTENTS)
            or any(path == d or path.startswith(d + "/") for d in DROPPED_TREES))


def _layout_members() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """What exaslct adds after extracting: the /conf links, then exasol-manifest.json.

    Fixed owner root and mtime 0, so the archive stays a pure function of the image.
    """
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for name, target in CONF_LINKS:
        link = tarfile.TarInfo(name)
        link.type, link.linkname, link.mode = tarfile.SYMTYPE, target, 0o777
        members.append((link, None))
    manifest = tarfile.TarInfo(MANIFEST[0])
    manifest.size, manifest.mode = len(MANIFEST[1]), 0o644
    members.append((manifest, MANIFEST[1]))
    return members


@dataclass(frozen=True)
class ArchiveStats:
    kept: int  # tar members written
    dropped: int  # tar members left out
    size: int  # bytes of the .tar.gz
    sha512: str  # hex digest of the .tar.gz


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha512()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()


class _TailReader:
    """A read-only file object that remembers the last bytes read, to check the end-of-archive marker."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.tail = b""

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.tail = (self.tail + data)[-_END_MARKER:]
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def filter_rootfs(source: IO[bytes], target: IO[bytes]) -> ArchiveStats:
    """Copy the tar stream ``source`` to ``target`` as a deterministic .tar.gz without dropped members.

    Streams member by member (memory use does not grow with the image). The gzip header has
    no file name and mtime 0, so the same input tar always gives the same bytes. Hard links
    to a dropped file are dropped too: they would not extract.
    """
    writer = _HashingWriter(target)
    reader = _TailReader(source)
    kept = dropped = 0
    seen_etc = False
    with gzip.GzipFile(filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=writer, mtime=0) as gz, \
            tarfile.open(fileobj=cast(IO[bytes], reader), mode="r|") as tar_in, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar_out:
        for member in tar_in:
            if is_dropped(member.name) or (member.islnk() and is_dropped(member.linkname)):
                dropped += 1
                continue
            if member_path(member.name) == MANIFEST[0]:
                dropped += 1  # replaced by the manifest appended below, as exaslct's tar -r would shadow it
                continue
            tar_out.addfile(member, tar_in.extractfile(member) if member.isreg() else None)
            seen_etc = seen_etc or (member.isdir() and member_path(member.name) == "etc")
            kept += 1
        # tarfile takes a stream cut at a member boundary for a complete archive; a complete
        # one ends with two zero blocks (Go's archive/tar and tarfile both write them).
        reader.drain()
        if reader.tail != bytes(_END_MARKER):
            msg = "the image tar ends early (no end-of-archive marker)"
            raise tarfile.ReadError(msg)
        if not seen_etc:  # the links need their directory (exaslct's os.symlink would fail)
            etc = tarfile.TarInfo("etc")
            etc.type, etc.mode = tarfile.DIRTYPE, 0o755
            tar_out.addfile(etc)
            kept += 1
        for info, content in _layout_members():
            tar_out.addfile(info, io.BytesIO(content) if content is not None else None)
            kept += 1
    return ArchiveStats(kept, dropped, writer.size, writer.digest.hexdigest())


def checksum_line(sha512: str, filename: str) -> str:
    """One line of ``sha512sum`` output (text mode: two spaces), as ``sha512sum -c`` reads it."""
    return f"{sha512}  {filename}\n"


def parse_checksum(text: str, filename: str) -> str | None:
    """The digest the checksum file ``text`` gives for ``filename``, or None."""
    for line in text.splitlines():
        digest, sep, name = line.partition(" ")
        # sha512sum writes " " + "*" in binary mode and " " + " " in text mode.
        if sep and name[1:] == filename and name[:1] in (" ", "*") and len(digest) == 128:
            return digest.lower()
    return None


def file_sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_complete(archive: Path, checksum: Path) -> bool:
    """Both files exist and the archive's SHA-512 is the one the checksum file names.

    The digest is recomputed (about a second per GB): a truncated or edited archive must not
    count as exported.
    """
    try:
        expected = parse_checksum(checksum.read_text(encoding="utf-8"), archive.name)
        return expected is not None and file_sha512(archive) == expected
    except (OSError, UnicodeDecodeError):
        return False


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def _atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A file that appears at ``path`` complete (temp file, fsync, ``os.replace``) or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes 0600 files; an export is shared like any file the user writes.
        os.fchmod(fd, _default_file_mode())
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:  # also Ctrl-C: no temp file stays behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_archive(raw_tar: Path, archive: Path, checksum: Path) -> ArchiveStats:
    """Filter ``raw_tar`` into ``archive``, then write ``checksum``; each appears complete or not at all.

    The checksum file comes last, so an archive without one (a crash in between) is never
    taken for a finished export.
    """
    with _atomic_output(archive) as out, raw_tar.open("rb") as source:
        stats = filter_rootfs(source, out)
    with _atomic_output(checksum) as out:
        out.write(checksum_line(stats.sha512, archive.name).encode())
    return stats


# --- the command ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportOptions:
    goal: str | None = None  # default: the flavor's first goal
    output_dir: Path | None = None  # default: <state dir>/export (.slcc/export)
    progress: Progress = "auto"


@dataclass(frozen=True)
class ExportResult:
    flavor: str
    step: str
    hash: str
    tag: str
    archive: Path
    checksum: Path
    size: int
    seconds: float
    cached: bool
    sha512: str
    dropped: int | None = None  # members left out; None when cached
    platform: str | None = None  # set when the flavor declares platforms (one archive each)

    def as_json(self) -> dict[str, Any]:
        data = {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}
        return {k: v for k, v in data.items() if v is not None}


def single_flavor(project: Project) -> Flavor:
    """The one flavor a command works on; bad input when there are several."""
    if len(project.flavors) != 1:
        names = ", ".join(f.name for f in project.flavors)
        raise InputError(f"name one flavor (found: {names})")
    return project.flavors[0]


# exaslct's names for its two build platforms (ImageInfo.Platform: X64, ARM_64).
_PLATFORM_LABELS = {"linux/amd64": "x64", "linux/arm64": "arm64"}


def platform_label(platform: str) -> str:
    """The platform as archive names carry it: x64 and arm64 as in exaslct, else e.g. ``arm-v7``."""
    parts = platform.split("/")
    return _PLATFORM_LABELS.get(platform) or "-".join(parts[1:] if parts[0] == "linux" else parts)


def archive_name(flavor: str, step: str, short_hash: str, platform: str | None = None) -> str:
    label = f"-{platform_label(platform)}" if platform else ""
    return f"{flavor}-{step}{label}-{short_hash}.tar.gz"


@dataclass(frozen=True)
class _Archive:
    platform: str | None
    archive: Path
    checksum: Path


def export(project: Project, options: ExportOptions, io: BuildIO) -> list[ExportResult]:
    """Export the goal step's filesystem, one archive per declared platform (else one archive).

    A no-op for every archive that is complete for the goal's hash. Raises InputError (unknown
    goal, several flavors), BuildFailed (the goal did not build) and EngineError (the export
    bake failed).
    """
    start = time.monotonic()
    flavor = single_flavor(project)
    step = options.goal or flavor.goals[0]
    if step not in flavor.steps:
        raise InputError(f"flavor {flavor.name} has no step {step!r} (steps: {', '.join(flavor.steps)})", "--goal")
    step_hash = project.hash_all()[flavor.name][step]
    tag = step_hash.tag(project.settings.repository)
    out_dir = (options.output_dir or project.settings.state_dir / "export").resolve()
    check_dir_path(out_dir, "output directory", "--output-dir" if options.output_dir else project.settings.state_dir)
    archives = []
    for platform in flavor.platforms or (None,):
        archive = out_dir / archive_name(flavor.name, step, step_hash.short, platform)
        archives.append(_Archive(platform, archive, archive.with_name(archive.name + ".sha512sum")))

    def result(item: _Archive, stats: ArchiveStats | None) -> ExportResult:
        archive, checksum = item.archive, item.checksum
        size = stats.size if stats else archive.stat().st_size
        sha512 = stats.sha512 if stats else parse_checksum(checksum.read_text(encoding="utf-8"), archive.name)
        return ExportResult(flavor.name, step, step_hash.digest, tag, archive, checksum, size,
                            round(time.monotonic() - start, 2), stats is None, sha512 or "",
                            stats.dropped if stats else None, item.platform)

    missing = [a for a in archives if not is_complete(a.archive, a.checksum)]
    if not missing:
        return [result(a, None) for a in archives]
    report = build(project, BuildOptions(goals=(step,), progress=options.progress), io)
    run_dir = report.run_dir or State(project.settings.state_dir).new_run()
    for item in missing:
        io.echo(f"exporting {tag}{f' ({item.platform})' if item.platform else ''} to {item.archive}")
    raws = {a.archive: run_dir / f"export-{platform_label(a.platform) if a.platform else 'rootfs'}.tar"
            for a in missing}
    written: dict[Path, ArchiveStats] = {}
    try:
        _bake_tar(project, tag, run_dir, [(a.platform, raws[a.archive]) for a in missing], io)
        for item in missing:
            written[item.archive] = _write_or_fail(raws[item.archive], item, tag)
    finally:
        for raw in raws.values():
            raw.unlink(missing_ok=True)  # can be as big as the image: never keep it
    return [result(a, written.get(a.archive)) for a in archives]


def _write_or_fail(raw: Path, item: _Archive, tag: str) -> ArchiveStats:
    """``write_archive`` with its faults as one line: a broken tar (exit 1), a full or read-only disk."""
    try:
        return write_archive(raw, item.archive, item.checksum)
    except tarfile.TarError as exc:
        raise EngineError(f"exporting {tag}: BuildKit's tar of the image is unreadable ({exc})") from None
    except OSError as exc:
        raise WriteError(exc.filename or item.archive, exc.strerror or exc.__class__.__name__) from None


def _bake_tar(project: Project, tag: str, run_dir: Path, outputs: list[tuple[str | None, Path]],
              io: BuildIO) -> None:
    """Write the filesystem of image ``tag`` for each (platform, tar file) in ``outputs``.

    One bake with a target per platform: BuildKit's tar output of a multi-platform target
    would nest one root per platform in a single tar.
    """
    context = run_dir / "export-context"  # empty: nothing of the repository is sent
    bake_file = run_dir / "export.hcl"
    names = tuple(f"export_{platform_label(p).replace('-', '_')}" if p else "export" for p, _ in outputs)
    write_text_atomic(bake_file, "\n".join(hcl.block("target", name, [
        ("context", str(context)),
        ("dockerfile-inline", f"FROM {tag}\n"),
        ("platforms", [platform] if platform else None),
        ("output", ["type=tar," + emit.csv_field(f"dest={dest}")]),
        ("attest", ["type=provenance,disabled=true"]),
    ]) for name, (platform, dest) in zip(names, outputs, strict=True)))
    log = run_dir / "export.log"
    builder, docker_context = bake_target(project.settings, remote_builder(project.settings, io.engine))
    request = BakeRequest(bake_file, names, project.settings.repo_root, log, builder=builder, context=docker_context)
    context.mkdir(exist_ok=True)
    try:
        outcome = io.engine.bake(request, cancel=io.cancel)
    finally:
        # State prunes old run directories file by file: a directory left here would stop it.
        context.rmdir()
    if outcome.cancelled_by:
        raise Cancelled(outcome.cancelled_by, outcome.signum)
    if outcome.returncode != 0 or not all(dest.is_file() for _, dest in outputs):
        errors = outcome.progress.error_lines
        detail = errors[-1] if errors else f"bake exited {outcome.returncode}"
        raise EngineError(f"exporting {tag} failed: {detail} (full log: {log})")
