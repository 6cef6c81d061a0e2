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

Live progress asks the same question for every vertex as it starts (``vertex_owner``), before
there is an error or a snippet: there the instruction must sit in the candidate's Dockerfile at
the place its label gives (``[stage N/M]``, see StagePosition), so identical lines in a step and
its dependency are told apart. A failure with a label position is decided the same way before
the text-only fallback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from slcc.loading.dockerfile import stage_instructions
from slcc.progress.records import SourceSnippet, StagePosition, VertexFailure

_RUN_ERROR = re.compile(r'^process "/bin/sh -c (.*)" did not complete successfully')
_VAR = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_NUMBERED = frozenset({"FROM", "RUN", "COPY", "ADD", "WORKDIR"})  # what BuildKit counts in N/M


@dataclass(frozen=True)
class Candidate:
    """A step that may own the failed vertex: the labelled one first, then its stale dependencies."""

    key: tuple[str, str]  # (flavor, step)
    dockerfile: str  # the text of its Dockerfile
    built: bool  # its image exists after the bake
    contexts: frozenset[str] = frozenset()  # names its FROM may use for other steps (no FROM vertex)


def owner(failure: VertexFailure, snippet: SourceSnippet | None,
          candidates: Sequence[Candidate]) -> tuple[str, str]:
    """The step to blame for ``failure``; ``candidates`` nearest first, never empty."""
    alive = [c for c in candidates if not c.built] or list(candidates)
    if snippet is not None and snippet.lines:
        matches = [c for c in alive if snippet_matches(c.dockerfile, snippet)]
        if matches:
            return matches[-1].key
    if failure.position is not None:
        placed = [c for c in alive if any(_holds(c, form, failure.position) for form in written_forms(failure))]
        if placed:
            return placed[-1].key
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


def vertex_owner(instruction: str, position: StagePosition | None, candidates: Sequence[Candidate]) -> tuple[str, str]:
    """The step a starting vertex belongs to; ``candidates`` as for ``owner``, labelled first.

    Best: the instruction at the label's place (N and M); then in a stage of M numbered
    instructions; then anywhere in the Dockerfile; else the labelled step. Deepest wins.
    """
    tests = [position, StagePosition(0, position.size), None] if position is not None else [None]
    for wanted in tests:
        matches = [c for c in candidates if _holds(c, instruction, wanted)]
        if matches:
            return matches[-1].key
    return candidates[0].key


@dataclass(frozen=True)
class _Numbered:
    text: str  # normalized
    index: int  # N as BuildKit prints it (0: not numbered)
    size: int  # M of its stage


def _holds(candidate: Candidate, instruction: str, position: StagePosition | None) -> bool:
    """``position`` None: anywhere; index 0: in a stage of that size; else exactly there."""
    wanted = _normalize(instruction)
    for line in _numbered(candidate.dockerfile, candidate.contexts):
        if position is not None and (line.size != position.size or position.index not in (0, line.index)):
            continue
        if _matches(line.text, wanted):
            return True
    return False


@cache
def _numbered(dockerfile: str, contexts: frozenset[str]) -> tuple[_Numbered, ...]:
    out: list[_Numbered] = []
    stages: set[str] = set()
    for stage in stage_instructions(dockerfile):
        words = [w for w in stage[0].split()[1:] if not w.startswith("--")]
        base = words[0] if words else ""
        # FROM a step's context or an earlier stage makes no vertex, so numbering starts after it.
        shift = 1 if base in contexts or base.lower() in stages else 0
        numbered = [line for line in stage if line.split(None, 1)[0].upper() in _NUMBERED]
        out += [_Numbered(_normalize(line), i - shift, len(numbered)) for i, line in enumerate(numbered, 1)]
        out += [_Numbered(_normalize(line), 0, len(numbered)) for line in stage if line not in numbered]
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2].lower())
    return tuple(out)


def _normalize(instruction: str) -> str:
    """One space between words and the keyword in capitals, as BuildKit names a vertex."""
    words = instruction.split()
    return " ".join([words[0].upper(), *words[1:]]) if words else ""


def _matches(line: str, vertex: str) -> bool:
    """Equal, or equal once ``$VAR`` references (BuildKit expands some) match any text."""
    return line == vertex or ("$" in line and _pattern(line).fullmatch(vertex) is not None)


@cache
def _pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*?".join(re.escape(part) for part in _VAR.split(line)), re.DOTALL)
