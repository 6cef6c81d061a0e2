"""Durations and sizes as users write them: `7d`, `12h`, `90m`; `5GB`, `500MiB`, `0`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (a number and one of s, m, h, d, w); ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (e.g. 30m, 12h, 7d, 2w)")
    return float(match.group(1)) * _SECONDS[match.group(2).lower()]


def parse_size(text: str) -> int:
    """Bytes in ``text``: plain bytes, or k/M/G/T with B (powers of 1000) or iB (powers of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size (e.g. 500MB, 10GiB, 0)")
    unit = match.group(2).lower()
    base = 1024 if unit.endswith("ib") or unit.endswith("i") else 1000
    return int(float(match.group(1)) * base ** _POWERS[unit[:1] if unit[:1] in "kmgt" else ""])


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB' (powers of 1000, as `docker image ls` prints)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
