"""The words slcc uses for what a step is and what happened to it, in one place.

Every status a plan, a build report or a watch cycle can print comes from here, and so do the
command-line choices (``choices(Progress)``), so a value cannot exist in one and not the other.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, get_args


class StepKey(NamedTuple):
    """A step of a flavor; equal to (and hashed like) the plain ``(flavor, step)`` tuple."""

    flavor: str
    step: str


# Planning: whether a step's hash-tagged image exists, and where.
Freshness = Literal["fresh-local", "fresh-registry", "stale"]
# A build report: a fresh step, or what the bake did with a stale one.
StepStatus = Literal["fresh-local", "fresh-registry", "built", "failed", "not-built"]
# A watch cycle.
CycleResult = Literal["ok", "failed", "ignored", "error", "restarted"]
# How bake progress is shown.
Progress = Literal["auto", "plain", "json", "quiet"]
# The build cache backend.
CacheBackend = Literal["registry", "local", "inline", "none"]
# Where images and git-sourced mappings come from (after the EXA build system's scopes):
# local = working trees and images as they are now; main = git branch heads; tag = git tags,
# then written to slcc.lock; rel = exactly slcc.lock.
Scope = Literal["local", "main", "tag", "rel"]


def choices(literal: Any) -> list[str]:
    """The values of a Literal type, for click.Choice."""
    return [str(value) for value in get_args(literal)]
