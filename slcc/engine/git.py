"""git, asked for the repository's commit (an image label, never part of a hash)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from slcc.engine.protocol import CommandJournal, CommandRecord


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
