"""Printing bake progress for people: the full plain output, one line per instruction, or nothing."""

from __future__ import annotations

from collections.abc import Callable

from slcc.progress.bake_log import VERTEX_ERROR, VERTEX_LINE
from slcc.vocabulary import Progress


def progress_printer(mode: Progress, echo: Callable[[str], None]) -> Callable[[str], None] | None:
    """A line callback for bake's output in ``mode`` (None: print nothing)."""
    if mode == "quiet":
        return None
    if mode == "plain":
        return echo
    seen: set[str] = set()

    def condensed(line: str) -> None:
        # One line per build instruction as it starts, and every error.
        match = VERTEX_LINE.match(line)
        if match and match.group(1) not in seen and "[internal]" not in line:
            seen.add(match.group(1))
            echo(f"  [{match.group(2)}] {match.group(3)}")
        elif line.startswith("ERROR:") or (VERTEX_ERROR.match(line) and "cache import" not in line):
            echo("  " + line)

    return condensed
