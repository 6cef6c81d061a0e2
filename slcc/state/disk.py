"""Bytes under a path, as `slcc du` and `slcc clean` count them."""

from __future__ import annotations

import os
from pathlib import Path


def tree_size(path: Path) -> int:
    """Bytes of the files under ``path`` (a file's own size for a file); 0 when it is gone."""
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total
