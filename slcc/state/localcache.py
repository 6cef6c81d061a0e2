"""BuildKit's local cache directories (.slcc/cache/FLAVOR/STEP): an OCI layout slcc can rebuild.

BuildKit fails every build whose cache-from names a directory with a garbled ``index.json``,
until the directory is deleted by hand. It is only a cache: such a directory is discarded
with a warning before the bake, and the step builds without it (and writes a fresh one).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _valid_index(data: Any) -> bool:
    manifests = data.get("manifests") if isinstance(data, dict) else None
    return isinstance(manifests, list) and all(
        isinstance(m, dict) and isinstance(m.get("digest"), str) and ":" in m["digest"] for m in manifests)


def discard_if_corrupt(directory: Path, warn: Callable[[str], None]) -> None:
    """Remove ``directory`` when its index.json (or a blob it names) is unreadable or of the wrong shape."""
    index = directory / "index.json"
    if not index.exists():
        return
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    problem = None if _valid_index(data) else "index.json is not an OCI index"
    if problem is None:
        for manifest in data["manifests"]:
            algorithm, _, digest = manifest["digest"].partition(":")
            if not (directory / "blobs" / algorithm / digest).is_file():
                problem = f"blob {manifest['digest']} is missing"
                break
    if problem is not None:
        warn(f"{directory}: local build cache discarded ({problem}); this step builds without it")
        shutil.rmtree(directory, ignore_errors=True)
