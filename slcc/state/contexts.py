"""Write materialized contexts (slcc/emitting/materialized.py names them) before a bake.

Each is a copy of exactly the entries that were hashed, plus the extra files, written to
a temporary directory and renamed into place, so a directory that exists is complete. Its
name holds the digest, so an existing one is reused as is; when two writers race (an
`emit-bake` beside a build, two flavors' mappings with the same digest), the first rename wins
and the other's copy is dropped.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from slcc.emitting import materialized
from slcc.errors import InputError
from slcc.hashing.stephash import StepHash
from slcc.hashing.treehash import TreeDigest
from slcc.loading.config import Settings
from slcc.model import Flavor

StepKey = tuple[str, str]


def _copy_entries(tree: TreeDigest, root: Path, into: Path) -> None:
    for entry in tree.entries:
        target = into / entry.path
        if entry.kind == "dir":
            target.mkdir(exist_ok=True)
        elif entry.kind == "symlink":
            os.symlink(entry.digest, target)
        else:
            # Reads through followed links: the content is what was hashed (mode aside).
            shutil.copyfile(root / entry.path, target)
            os.chmod(target, 0o755 if entry.executable else 0o644)


def _publish(final: Path, fill: Iterable[tuple[TreeDigest, Path, str]], extra: Mapping[str, bytes]) -> None:
    if final.is_dir():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        for tree, root, prefix in fill:
            base = tmp / prefix if prefix else tmp
            base.mkdir(parents=True, exist_ok=True)
            _copy_entries(tree, root, base)
        for name, data in extra.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_bytes(data)
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) and final.is_dir():
            return  # another process published it first (a non-empty directory: ENOTEMPTY on Linux)
        raise InputError(f"cannot write materialized context: {exc.strerror}", final) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def materialize(settings: Settings, flavors: Iterable[Flavor], hashes: Mapping[str, Mapping[str, StepHash]],
                only: frozenset[StepKey] | None = None) -> None:
    """Write the materialized contexts of the steps in ``only`` (all steps when None)."""
    for flavor in flavors:
        for step in flavor.steps.values():
            if only is not None and (flavor.name, step.name) not in only:
                continue
            step_hash = hashes[flavor.name][step.name]
            for name in step.mappings:
                if flavor.materialized_mapping(name):
                    source = flavor.mappings[name]
                    root = source if source.is_dir() else source.parent
                    _publish(materialized.mapping_dir(settings, flavor, name, step_hash),
                             [(step_hash.mappings[name], root, "")], {})
            if step.materialized:
                extra = {name: path.read_bytes() for name, path in step.files.items()}
                extra.update(step.generated)
                _publish(materialized.step_context_dir(settings, flavor, step, step_hash),
                         [(step_hash.context, step.context, "")], extra)
