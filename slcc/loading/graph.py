"""Graph algorithms over step dependencies: ordering, cycles, goal closure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


class CycleError(ValueError):
    def __init__(self, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__(" -> ".join(cycle))


def topological_order(depends: Mapping[str, Iterable[str]]) -> list[str]:
    """Deterministic order with dependencies first; raises CycleError naming the cycle.

    Iterative depth-first search, so long chains (thousands of steps) cannot hit
    Python's recursion limit.
    """
    done: set[str] = set()
    order: list[str] = []
    for root in sorted(depends):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        pending = [iter(sorted(depends.get(root, ())))]
        while pending:
            dep = next(pending[-1], None)
            if dep is None:
                node = path.pop()
                on_path.discard(node)
                pending.pop()
                done.add(node)
                order.append(node)
            elif dep in on_path:
                raise CycleError([*path[path.index(dep) :], dep])
            elif dep not in done:
                path.append(dep)
                on_path.add(dep)
                pending.append(iter(sorted(depends.get(dep, ()))))
    return order


def _reachable(roots: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return seen


def closure(goals: Iterable[str], depends: Mapping[str, Iterable[str]]) -> set[str]:
    """The goals and everything they need."""
    return _reachable(goals, depends)


def dependents(roots: Iterable[str], depends: Mapping[str, Iterable[str]]) -> set[str]:
    """The roots and every step that needs one of them, directly or not."""
    reverse: dict[str, set[str]] = {}
    for node, deps in depends.items():
        for dep in deps:
            reverse.setdefault(dep, set()).add(node)
    return _reachable(roots, reverse)
