"""`slcc import-exaslct`: plan the import in memory, then write only what differs.

Running it twice writes nothing the second time; ``--check`` reports what would change
and writes nothing. Files already in DEST that the import does not produce are left alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slcc.errors import InputError, SlccError
from slcc.importing.importer import ImportPlan, OutFile, plan_import
from slcc.state.atomic import write_bytes_atomic


@dataclass(frozen=True)
class ImportResult:
    plan: ImportPlan
    created: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: int
    written: bool  # False with --check
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "flavors": [{"name": f.name, "source": f.source, "steps": f.steps, "edges": f.edges}
                        for f in self.plan.flavors],
            "rewrites": [r.as_json() for r in self.plan.rewrites],
            "created": list(self.created),
            "changed": list(self.changed),
            "unchanged": self.unchanged,
            "written": self.written,
            "seconds": round(self.seconds, 3),
        }


def _differs(path: Path, out: OutFile) -> bool:
    if out.link is not None:
        return not path.is_symlink() or os.readlink(path) != out.link
    if path.is_symlink() or not path.is_file():
        return True
    if bool(path.stat().st_mode & 0o100) != out.executable:
        return True
    return path.read_bytes() != out.data


def _write(path: Path, out: OutFile) -> None:
    if out.link is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.slcc-link")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(out.link, tmp)
        os.replace(tmp, path)
        return
    if path.is_symlink():
        path.unlink()  # replace the link itself, never write through it
    write_bytes_atomic(path, out.data)
    os.chmod(path, 0o755 if out.executable else 0o644)


def import_exaslct(source: Path, flavors: Sequence[str], dest: Path, check: bool) -> ImportResult:
    started = time.monotonic()
    plan = plan_import(source, flavors, dest)
    created: list[str] = []
    changed: list[str] = []
    unchanged = 0
    if dest.exists() and not dest.is_dir():
        raise InputError("--into is not a directory", dest)
    for rel, out in sorted(plan.files.items()):
        path = dest / rel
        blocker = next((p for p in [path, *path.parents] if p != dest and p.is_relative_to(dest)
                        and p.exists() and not p.is_symlink() and (p.is_dir() if p == path else not p.is_dir())), None)
        if blocker is not None:
            raise InputError(f"cannot write {rel}: {blocker} is in the way", dest)
        if not (path.exists() or path.is_symlink()):
            created.append(rel)
        elif _differs(path, out):
            changed.append(rel)
        else:
            unchanged += 1
    if not check:
        for rel in [*created, *changed]:
            try:
                _write(dest / rel, plan.files[rel])
            except OSError as exc:  # a full disk, permissions: what is written stays valid; rerun to finish
                raise SlccError(f"cannot write {dest / rel}: {exc.strerror or exc}") from None
    return ImportResult(plan, tuple(created), tuple(changed), unchanged, not check,
                        time.monotonic() - started)
