"""Which flavor step a failed vertex belongs to.

buildx labels a vertex shared by several targets with any one of them: a dependency's RUN
may appear as ``[demo_app 3/3]``. The labelled step is only where to start looking; the owner
is the labelled step or one of its stale dependencies. It is decided by what BuildKit reports,
in this order:

1. a candidate whose image exists after the bake did not fail;
2. the Dockerfile lines BuildKit printed for the failure (file, line numbers, text as written,
   build args unexpanded) must be that candidate's Dockerfile lines;
3. without them, a RUN's command as written (from ``process "/bin/sh -c ..."``) or the
   instruction as BuildKit printed it must appear in the candidate's Dockerfile.

Among several matches the deepest dependency wins: a vertex shared by a step and its
dependents belongs to the dependency.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from slcc.progress.records import SourceSnippet, VertexFailure

_RUN_ERROR = re.compile(r'^process "/bin/sh -c (.*)" did not complete successfully')


@dataclass(frozen=True)
class Candidate:
    """A step that may own the failed vertex: the labelled one first, then its stale dependencies."""

    key: tuple[str, str]  # (flavor, step)
    dockerfile: str  # the text of its Dockerfile
    built: bool  # its image exists after the bake


def owner(failure: VertexFailure, snippet: SourceSnippet | None,
          candidates: Sequence[Candidate]) -> tuple[str, str]:
    """The step to blame for ``failure``; ``candidates`` nearest first, never empty."""
    alive = [c for c in candidates if not c.built] or list(candidates)
    if snippet is not None and snippet.lines:
        matches = [c for c in alive if snippet_matches(c.dockerfile, snippet)]
        if matches:
            return matches[-1].key
    wanted = [_squash(text) for text in written_forms(failure)]
    matches = [c for c in alive if any(w and w in _squash(c.dockerfile) for w in wanted)]
    return (matches[-1] if matches else candidates[0]).key


def snippet_matches(dockerfile: str, snippet: SourceSnippet) -> bool:
    lines = dockerfile.split("\n")
    return all(0 < s.number <= len(lines) and lines[s.number - 1].rstrip() == s.text.rstrip()
               for s in snippet.lines)


def written_forms(failure: VertexFailure) -> list[str]:
    """How the failing instruction may read in its Dockerfile: args unexpanded first."""
    forms = []
    if match := _RUN_ERROR.match(failure.error):
        forms.append("RUN " + match.group(1).replace('\\"', '"'))
    return [*forms, failure.instruction]


def _squash(text: str) -> str:
    return " ".join(text.split())
