"""How long BuildKit itself worked in a bake, from the bake's own vertex timings.

Plain progress ends each vertex with ``#N DONE 1.2s``: BuildKit's own duration (completed minus
started). slcc reads the lines as they come, so each end is also placed on slcc's clock. A vertex
started at the latest ``duration`` seconds before its end line arrived, and at the latest when
its header line arrived (buildx may print a header late while another vertex is talking); the
earlier of the two is its start. The span from the first start to the last end is the time
BuildKit worked on the bake's graph: what buildx, the docker CLI and slcc add lies outside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from slcc.progress.records import VertexEvent

# buildx's own vertex for reading the bake file: client-side work before any solve starts.
BAKE_DEFINITIONS = "load local bake definitions"


@dataclass(frozen=True)
class BuildkitTime:
    """BuildKit's time in one bake (seconds)."""

    span: float  # first vertex start to last vertex end, on slcc's clock
    work: Mapping[str, float] = field(default_factory=dict)  # owner -> sum of its vertices' durations
    vertices: int = 0  # vertices that ended (done, cached, failed or canceled)


@dataclass
class _Vertex:
    owner: str | None
    start: float
    end: float | None = None
    seconds: float = 0.0


def buildkit_time(events: Iterable[VertexEvent], owners: Mapping[int, str] | None = None) -> BuildkitTime | None:
    """The BuildKit time of the ended vertices in ``events``; None when none ended.

    ``work`` sums each owner's vertex durations: ``owners`` maps a vertex to its owner (a step);
    without it, the bake target buildx labelled the vertex with (a shared vertex carries any one
    of its targets' names). Vertices without an owner (bake's own work) count in the span only.
    """
    vertices: dict[int, _Vertex] = {}
    for event in events:
        if event.instruction == BAKE_DEFINITIONS and event.target is None:
            continue
        if event.state == "started":
            owner = event.target if owners is None else owners.get(event.vertex)
            vertices.setdefault(event.vertex, _Vertex(owner, event.at))
        elif (vertex := vertices.get(event.vertex)) is not None:
            # A vertex may end more than once (resumed after other output): its last end and longest duration.
            vertex.end = event.at
            vertex.seconds = max(vertex.seconds, event.seconds or 0.0)
    ended = [v for v in vertices.values() if v.end is not None]
    if not ended:
        return None
    first = min(min(v.start, v.end - v.seconds) for v in ended if v.end is not None)
    last = max(v.end for v in ended if v.end is not None)
    work: dict[str, float] = {}
    for v in ended:
        if v.owner is not None:
            work[v.owner] = work.get(v.owner, 0.0) + v.seconds
    return BuildkitTime(round(last - first, 2), {t: round(s, 2) for t, s in work.items()}, len(ended))
