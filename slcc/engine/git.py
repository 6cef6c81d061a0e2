"""git: the repository's commit (an image label, never part of a hash), and git-sourced mappings
(a branch or tag resolved to a commit; the commit's files checked out once under .slcc/git/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import blake3

from slcc.engine.protocol import CommandJournal, CommandRecord
from slcc.errors import EngineError, InputError
from slcc.state.atomic import write_text_atomic


def revision(repo_root: Path, journal: CommandJournal | None = None) -> str | None:
    """The commit checked out at ``repo_root``, or None outside git or without git."""
    argv = ("git", "-C", str(repo_root), "rev-parse", "HEAD")
    start = time.monotonic()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        out = None
    if journal is not None:
        journal.add(CommandRecord(argv, out.returncode if out else None, round(time.monotonic() - start, 2)))
    if out is None or out.returncode != 0:
        return None
    return out.stdout.strip() or None


# --- git-sourced mappings -----------------------------------------------------------------------

_TIMEOUT = 300.0


def _git(argv: Sequence[str], journal: CommandJournal | None, timeout: float = _TIMEOUT,
         stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    args = ("git", *argv)
    start = time.monotonic()
    try:
        # No prompts: an unreachable or private source fails instead of waiting for a password.
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        out = subprocess.run(args, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout, check=False, env=env)
    except FileNotFoundError:
        raise EngineError("git is not installed (git-sourced mappings need it)") from None
    except subprocess.TimeoutExpired:
        raise EngineError(f"`{' '.join(args)}` did not finish within {timeout:.0f} s") from None
    if journal is not None:
        journal.add(CommandRecord(args, out.returncode, round(time.monotonic() - start, 2)))
    return out


def _last_line(out: subprocess.CompletedProcess[bytes]) -> str:
    lines = out.stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit {out.returncode}"


def commit_of(source: str, kind: str, name: str, journal: CommandJournal | None = None) -> str:
    """The commit ``refs/<kind>s/<name>`` (kind: tag or branch) points to in ``source``."""
    ref = f"refs/{'tags' if kind == 'tag' else 'heads'}/{name}"
    if source.startswith("/"):
        if not Path(source).is_dir():
            raise InputError(f"git source {source} does not exist")
        out = _git(["-C", source, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], journal)
        if out.returncode == 0:
            return out.stdout.decode().strip()
        probe = _git(["-C", source, "rev-parse", "--git-dir"], journal)
        if probe.returncode != 0:
            raise InputError(f"git source {source} is not a git repository")
        raise InputError(f"{kind} {name!r} does not exist in git source {source}")
    out = _git(["ls-remote", "--", source, ref, f"{ref}^{{}}"], journal)
    if out.returncode != 0:
        raise EngineError(f"cannot reach git source {source}: {_last_line(out)}")
    found: dict[str, str] = {}
    for line in out.stdout.decode().splitlines():
        sha, _, name_ = line.partition("\t")
        found[name_] = sha
    commit = found.get(f"{ref}^{{}}") or found.get(ref)  # an annotated tag peels to its commit
    if commit is None:
        raise InputError(f"{kind} {name!r} does not exist in git source {source}")
    return commit


def checkout(source: str, commit: str, cache: Path, journal: CommandJournal | None = None) -> tuple[Path, str]:
    """``commit``'s files under ``cache/<commit>/`` (made once, atomically) and its tree id."""
    target, tree_file = cache / commit, cache / f"{commit}.tree"
    if target.is_dir() and tree_file.is_file():
        return target, tree_file.read_text().strip()
    repo = source if source.startswith("/") else _fetched(source, commit, cache, journal)
    out = _git(["-C", repo, "rev-parse", "--verify", "--quiet", f"{commit}^{{tree}}"], journal)
    if out.returncode != 0:
        raise InputError(f"commit {commit} is not in git source {source}")
    tree = out.stdout.decode().strip()
    cache.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{commit}.", dir=cache))
    try:
        _extract(repo, commit, temp, journal)
        if not target.is_dir():
            os.rename(temp, target)
        write_text_atomic(tree_file, tree + "\n")
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target, tree


def bare_repository(url: str, cache: Path) -> Path:
    """Where commits of a git URL are fetched to (`slcc clean` keeps those of current sources)."""
    return cache / "repos" / (blake3.blake3(url.encode()).hexdigest()[:24] + ".git")


def _fetched(url: str, commit: str, cache: Path, journal: CommandJournal | None) -> str:
    """A bare repository under ``cache/repos/`` that holds ``commit`` of ``url``."""
    repo = bare_repository(url, cache)
    if not repo.is_dir():
        repo.parent.mkdir(parents=True, exist_ok=True)
        _git(["init", "--bare", "--quiet", str(repo)], journal)
    if _git(["-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"], journal).returncode == 0:
        return str(repo)
    out = _git(["-C", str(repo), "fetch", "--quiet", "--no-tags", "--", url, commit], journal)
    if out.returncode != 0:  # servers that refuse fetching by commit id: fetch every branch and tag
        out = _git(["-C", str(repo), "fetch", "--quiet", "--", url, "+refs/heads/*:refs/slcc/heads/*",
                    "+refs/tags/*:refs/slcc/tags/*"], journal)
        if out.returncode != 0:
            raise EngineError(f"cannot fetch git source {url}: {_last_line(out)}")
    return str(repo)


def _extract(repo: str, commit: str, into: Path, journal: CommandJournal | None) -> None:
    archive = into.with_suffix(".tar")
    try:
        with archive.open("wb") as sink:
            out = _git(["-C", repo, "archive", "--format=tar", commit], journal, stdout=sink.fileno())
        if out.returncode != 0:
            raise EngineError(f"git archive of {commit} failed: {_last_line(out)}")
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")  # paths stay inside; no devices, no absolute links
    finally:
        archive.unlink(missing_ok=True)
