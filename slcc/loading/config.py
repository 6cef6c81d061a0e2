"""Project settings: command line > SLCC_* environment > slcc.toml > defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from slcc.errors import InputError
from slcc.loading import tomlfile

CacheBackend = Literal["registry", "local", "inline", "none"]
CACHE_BACKENDS: tuple[CacheBackend, ...] = ("registry", "local", "inline", "none")
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_REPOSITORY = "slcc"
# A docker repository: optional registry host[:port], then lowercase path components.
_REPOSITORY = re.compile(
    r"^(?:(?P<host>[a-zA-Z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


@dataclass(frozen=True)
class Settings:
    repo_root: Path
    repository: str  # where hash-tagged images live: "slcc" (local only) or "host:port/path"
    cache_backend: CacheBackend
    ca_bundle: Path | None  # passed as BuildKit secret "ca"; never hashed, never in a layer
    builder: str | None
    state_dir: Path

    @property
    def registry_host(self) -> str | None:
        """The registry part of ``repository``, or None when images are local only."""
        first, sep, _ = self.repository.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            return first
        return None

    @property
    def bake_dir(self) -> Path:
        return self.repo_root / "bake"


def find_repo_root(start: Path) -> Path:
    """The nearest directory holding slcc.toml, a flavors/ directory or .git."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / "slcc.toml").is_file() or (candidate / "flavors").is_dir():
            return candidate
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def _check_repository(value: str, where: str | Path) -> str:
    value = value.strip().rstrip("/")
    if not _REPOSITORY.match(value):
        raise InputError(f"invalid image repository {value!r} (e.g. 127.0.0.1:5000/slcc)", where)
    return value


def _resolve_ca(value: str, base: Path) -> Path | None:
    if value in ("", "none"):
        return None
    if value == "auto":
        return DEFAULT_CA_BUNDLE if DEFAULT_CA_BUNDLE.is_file() else None
    return (base / value).resolve()


def load_settings(
    repo_root: Path,
    overrides: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read slcc.toml (optional), then SLCC_* env vars, then ``overrides`` (the command line)."""
    env = os.environ if environ is None else environ
    path = repo_root / "slcc.toml"
    data = tomlfile.load(path) if path.is_file() else {}
    tomlfile.check_keys(data, {"registry", "cache", "build", "state"}, "", path)
    registry = tomlfile.table(data.get("registry"), "[registry]", path)
    tomlfile.check_keys(registry, {"repository"}, "in [registry]: ", path)
    cache = tomlfile.table(data.get("cache"), "[cache]", path)
    tomlfile.check_keys(cache, {"backend"}, "in [cache]: ", path)
    build = tomlfile.table(data.get("build"), "[build]", path)
    tomlfile.check_keys(build, {"ca_bundle", "builder"}, "in [build]: ", path)
    state = tomlfile.table(data.get("state"), "[state]", path)
    tomlfile.check_keys(state, {"dir"}, "in [state]: ", path)

    raw: dict[str, tuple[str, str | Path]] = {}  # key -> (value, where it came from)
    for key, section, name in (
        ("repository", registry, "repository"),
        ("cache", cache, "backend"),
        ("ca_bundle", build, "ca_bundle"),
        ("builder", build, "builder"),
        ("state_dir", state, "dir"),
    ):
        if name in section:
            raw[key] = (tomlfile.string(section[name], name, path), path)
    for key in ("repository", "cache", "ca_bundle", "builder", "state_dir"):
        env_name = f"SLCC_{key.upper()}"
        if env_name in env:
            raw[key] = (env[env_name], f"${env_name}")
    for key, value in (overrides or {}).items():
        if value is not None:
            raw[key] = (value, f"--{key.replace('_', '-')}")

    repository = _check_repository(*raw.get("repository", (LOCAL_REPOSITORY, "default")))
    settings = Settings(
        repo_root=repo_root,
        repository=repository,
        cache_backend="none",
        ca_bundle=_resolve_ca(raw.get("ca_bundle", ("auto", ""))[0], repo_root),
        builder=raw["builder"][0] or None if "builder" in raw else None,
        state_dir=(repo_root / raw.get("state_dir", (".slcc", ""))[0]).resolve(),
    )
    default_cache = "registry" if settings.registry_host else "local"
    cache_value, where = raw.get("cache", (default_cache, "default"))
    if cache_value not in CACHE_BACKENDS:
        raise InputError(f"unknown cache backend {cache_value!r} (one of: {', '.join(CACHE_BACKENDS)})", where)
    if cache_value == "registry" and not settings.registry_host:
        raise InputError(f"cache backend 'registry' needs a registry in the repository, not {repository!r}", where)
    return replace(settings, cache_backend=cache_value)
