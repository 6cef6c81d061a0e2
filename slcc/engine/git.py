"""git, asked for the repository's commit (an image label, never part of a hash)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def revision(repo_root: Path) -> str | None:
    """The commit checked out at ``repo_root``, or None outside git or without git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo_root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
