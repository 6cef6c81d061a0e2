"""Git-sourced mappings in flavor.toml: ``name = { git = "URL or path", branch = "main", tag = "v1" }``.

``git`` is a URL (``https://``, ``ssh://``, ``file://``, ``user@host:path``) or a repository path
relative to the flavor directory; ``branch`` (default ``main``) is used in scope main, ``tag`` in
scopes tag and rel (via slcc.lock); ``path`` is an optional working tree for scope local.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from slcc.errors import InputError
from slcc.loading import tomlfile
from slcc.model import GitSource

_KEYS = {"git", "branch", "tag", "path"}
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:)")
# git check-ref-format, roughly: no spaces, no "..", no control characters, no leading "-".
_REF_NAME = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+-]+(?<![./])$")


def parse(raw: dict[str, Any], name: str, directory: Path, repo_root: Path, src: Path) -> GitSource:
    where = f"[mappings].{name}"
    tomlfile.check_keys(raw, _KEYS, f"in {where}: ", src)
    if "git" not in raw:
        raise InputError(f"{where} needs git = \"URL or repository path\" (or give a directory as a string)", src)
    git = tomlfile.string(raw["git"], f"{where}.git", src)
    if not git.strip():
        raise InputError(f"{where}.git is empty", src)
    refs = {key: tomlfile.string(raw[key], f"{where}.{key}", src) for key in ("branch", "tag") if key in raw}
    for key, value in refs.items():
        if not _REF_NAME.match(value):
            raise InputError(f"{where}.{key}: invalid git ref name {value!r}", src)
    path = None
    if "path" in raw:
        path = (directory / tomlfile.string(raw["path"], f"{where}.path", src)).resolve()
        if not path.is_relative_to(repo_root) or not path.is_dir():
            raise InputError(f"{where}.path must be a directory inside the repository: {path}", src)
    source = git if _URL.match(git) else str((directory / git).resolve())
    return GitSource(source, refs.get("branch", "main"), refs.get("tag"), path)
