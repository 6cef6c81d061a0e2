"""Project settings: command line > SLCC_* environment > slcc.toml > defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import get_args

from slcc.errors import InputError
from slcc.loading import tomlfile
from slcc.loading.units import parse_size
from slcc.vocabulary import CacheBackend, Scope

CACHE_BACKENDS: tuple[CacheBackend, ...] = get_args(CacheBackend)
SCOPES: tuple[Scope, ...] = get_args(Scope)  # default: rel when slcc.lock exists, else local
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
LOCAL_REPOSITORY = "slcc"
USER_CONFIG_HINT = "~/.config/slcc/config.toml"
# slcc.toml sections -> {key in the file: setting name}
_SECTIONS = {
    "registry": {"repository": "repository"},
    "cache": {"backend": "cache"},
    "build": {"ca_bundle": "ca_bundle", "builder": "builder", "scope": "scope"},
    "state": {"dir": "state_dir"},
    "clean": {"keep": "clean_keep", "cache_budget": "cache_budget"},
}
_KEYS = ("repository", "cache", "ca_bundle", "builder", "state_dir", "clean_keep", "cache_budget", "scope")
DEFAULT_CLEAN_KEEP = 3  # images (and exports, runs) per step that `slcc clean` keeps
DEFAULT_CACHE_BUDGET = "10GB"  # local build-cache directories `slcc clean` keeps
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
    clean_keep: int = DEFAULT_CLEAN_KEEP
    cache_budget: int = 10_000_000_000  # bytes
    scope: Scope = "local"
    scope_source: str = "default"  # where the scope came from: --scope, $SLCC_SCOPE, slcc.toml, default
    cache_chosen: bool = True  # --cache, $SLCC_CACHE or slcc.toml named the backend (False: slcc's default)

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

    @property
    def lock_path(self) -> Path:
        return self.repo_root / "slcc.lock"


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


def user_config_path(environ: Mapping[str, str]) -> Path:
    """The user-level settings file: $XDG_CONFIG_HOME/slcc/config.toml or ~/.config/slcc/config.toml."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "slcc" / "config.toml"


@dataclass(frozen=True)
class Setting:
    """One raw setting value and where it came from (a file, ``$SLCC_X`` or ``--x``)."""

    value: str
    source: str | Path
    from_repository: bool = False  # the repository's own slcc.toml: not trusted with host paths


def _read_file(path: Path, from_repository: bool) -> dict[str, Setting]:
    """The settings a slcc.toml-shaped file holds."""
    data = tomlfile.load(path)
    tomlfile.check_keys(data, _SECTIONS, "", path)
    raw: dict[str, Setting] = {}
    for section, names in _SECTIONS.items():
        table = tomlfile.table(data.get(section), f"[{section}]", path)
        tomlfile.check_keys(table, names, f"in [{section}]: ", path)
        for name, key in names.items():
            if name in table:
                value = table[name]
                if isinstance(value, int) and not isinstance(value, bool):  # keep = 3
                    value = str(value)
                raw[key] = Setting(tomlfile.string(value, f"[{section}].{name}", path), path, from_repository)
    return raw


def _host_path(setting: Setting, name: str, repo_root: Path) -> Path:
    """A setting naming a host path, resolved against the repository root.

    Trust boundary: the repository's own slcc.toml may only name paths inside the
    repository (a hostile checkout must not mount /root/.ssh into a build or make slcc
    write elsewhere); the command line, the environment and the user's config may name any.
    """
    if "\0" in setting.value:
        raise InputError(f"{name}: path contains a NUL byte", setting.source)
    path = (repo_root / setting.value).resolve()
    if setting.from_repository and not path.is_relative_to(repo_root):
        raise InputError(
            f"{name} {setting.value!r} is outside the repository; a repository may not name host paths "
            f"(set it with --{name.replace('_', '-')}, $SLCC_{name.upper()} or {USER_CONFIG_HINT})",
            setting.source)
    return path


def _ca_bundle(setting: Setting | None, repo_root: Path) -> Path | None:
    if setting is None or setting.value == "auto":
        return DEFAULT_CA_BUNDLE if DEFAULT_CA_BUNDLE.is_file() else None
    if setting.value in ("", "none"):
        return None
    path = _host_path(setting, "ca_bundle", repo_root)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist" if not path.exists() else "is not a file"
        raise InputError(f"CA bundle {setting.value} {problem}", setting.source)
    return path


def check_dir_path(path: Path, what: str, source: str | Path) -> None:
    """``path`` is a directory or can be created: no ancestor is a file."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return
        if candidate.exists() or candidate.is_symlink():
            raise InputError(f"{what} {path}: {candidate} is not a directory", source)


def _gather(repo_root: Path, overrides: Mapping[str, str | None], env: Mapping[str, str]) -> dict[str, Setting]:
    """Raw settings by precedence: command line > $SLCC_* > slcc.toml > user config."""
    raw: dict[str, Setting] = {}
    user = user_config_path(env)
    if user.is_file() or (user.exists() and not user.is_dir()):
        raw.update(_read_file(user, from_repository=False))
    path = repo_root / "slcc.toml"
    if path.exists() or path.is_symlink():
        raw.update(_read_file(path, from_repository=True))
    for key in _KEYS:
        env_name = f"SLCC_{key.upper()}"
        if env_name in env:
            raw[key] = Setting(env[env_name], f"${env_name}")
    for key, value in overrides.items():
        if value is not None:
            raw[key] = Setting(value, f"--{key.replace('_', '-')}")
    return raw


def load_settings(
    repo_root: Path,
    overrides: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from the command line, SLCC_* env vars, slcc.toml and the user's config."""
    env = os.environ if environ is None else environ
    raw = _gather(repo_root, overrides or {}, env)
    repository = _check_repository(*_value(raw, "repository", LOCAL_REPOSITORY))
    # The default comes from the checkout too: a committed .slcc symlink must not lead outside.
    state = raw.get("state_dir", Setting(".slcc", repo_root / ".slcc", from_repository=True))
    state_dir = _host_path(state, "state_dir", repo_root)
    check_dir_path(state_dir, "state directory", state.source)
    builder = raw.get("builder")
    settings = Settings(
        repo_root=repo_root,
        repository=repository,
        cache_backend="none",
        ca_bundle=_ca_bundle(raw.get("ca_bundle"), repo_root),
        builder=builder.value or None if builder else None,
        state_dir=state_dir,
    )
    default_cache = "registry" if settings.registry_host else "local"
    cache_value, where = _value(raw, "cache", default_cache)
    if cache_value not in CACHE_BACKENDS:
        raise InputError(f"unknown cache backend {cache_value!r} (one of: {', '.join(CACHE_BACKENDS)})", where)
    if cache_value == "registry" and not settings.registry_host:
        raise InputError(f"cache backend 'registry' needs a registry in the repository, not {repository!r}", where)
    keep, budget = _clean_settings(raw)
    default_scope = "rel" if (repo_root / "slcc.lock").is_file() else "local"
    scope, scope_source = _value(raw, "scope", default_scope)
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r} (one of: {', '.join(SCOPES)})", scope_source)
    return replace(settings, cache_backend=cache_value, clean_keep=keep, cache_budget=budget, scope=scope,
                   scope_source=str(scope_source), cache_chosen=where != "default")


def _clean_settings(raw: Mapping[str, Setting]) -> tuple[int, int]:
    """[clean] keep and cache_budget: images kept per step, bytes of local build cache kept."""
    keep, keep_source = _value(raw, "clean_keep", str(DEFAULT_CLEAN_KEEP))
    if not keep.strip().isdigit():
        raise InputError(f"keep must be a whole number of images per step, not {keep!r}", keep_source)
    budget, budget_source = _value(raw, "cache_budget", DEFAULT_CACHE_BUDGET)
    try:
        size = parse_size(budget)
    except ValueError as exc:
        raise InputError(f"cache_budget: {exc}", budget_source) from None
    return int(keep), size


def _value(raw: Mapping[str, Setting], key: str, default: str) -> tuple[str, str | Path]:
    setting = raw.get(key)
    return (setting.value, setting.source) if setting else (default, "default")
