"""Strict TOML reading: every table is checked against the keys it may hold."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from slcc.errors import InputError
from slcc.loading import files

MAX_DEPTH = 32  # far deeper than any settings or flavor file needs


def load(path: Path) -> dict[str, Any]:
    """Parse ``path`` as UTF-8 TOML; every problem is one InputError naming the file."""
    try:
        text = files.read_text(path, "TOML file")
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", path) from None
    except RecursionError:
        raise InputError(f"invalid TOML: nested more than {MAX_DEPTH} levels deep", path) from None
    _check_values(data, path)
    return data


def _check_values(data: dict[str, Any], path: Path) -> None:
    """No nesting deeper than MAX_DEPTH and no NUL in any string (paths, names, args).

    Iterative, so the check itself cannot hit the recursion limit.
    """
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"invalid TOML: nested more than {MAX_DEPTH} levels deep", path)
        if isinstance(value, str) and "\0" in value:
            raise InputError(f"a string contains a NUL byte: {value!r}", path)
        if isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str, path: Path) -> None:
    """Reject unknown keys: a typo must not be silently ignored."""
    allowed = set(allowed)
    unknown = sorted(set(table) - allowed)
    if unknown:
        hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
        raise InputError(f"unknown key {where}{unknown[0]!r}{hint}", path)


def table(value: Any, where: str, path: Path) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where} must be a table", path)
    return value


def string(value: Any, where: str, path: Path) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where} must be a string, not {type(value).__name__}", path)
    return value


def string_list(value: Any, where: str, path: Path) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where} must be a list of strings", path)
    return list(value)


def string_map(value: Any, where: str, path: Path) -> dict[str, str]:
    """Args tables: values may be strings, numbers or booleans; all become strings."""
    result: dict[str, str] = {}
    for key, item in table(value, where, path).items():
        if isinstance(item, bool):
            result[key] = "true" if item else "false"
        elif isinstance(item, (str, int, float)):
            result[key] = str(item)
        else:
            raise InputError(f"{where}.{key} must be a string, number or boolean", path)
    return result
