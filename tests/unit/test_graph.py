import pytest

from slcc.loading.graph import CycleError, closure, dependents, topological_order

DEPS = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}


def test_order_puts_dependencies_first_and_is_stable() -> None:
    order = topological_order(DEPS)
    assert order == ["a", "b", "c", "d", "e"]
    for node, deps in DEPS.items():
        assert all(order.index(d) < order.index(node) for d in deps)


def test_cycle_is_named() -> None:
    with pytest.raises(CycleError) as info:
        topological_order({"x": ["y"], "y": ["z"], "z": ["x"]})
    assert str(info.value) == "x -> y -> z -> x"


def test_long_chain_does_not_recurse() -> None:
    chain = {str(i): [str(i - 1)] if i else [] for i in range(20_000)}
    assert len(topological_order(chain)) == 20_000


def test_closure_and_dependents() -> None:
    assert closure(["d"], DEPS) == {"a", "b", "c", "d"}
    assert dependents(["b"], DEPS) == {"b", "d"}
    assert dependents(["a"], DEPS) == {"a", "b", "c", "d"}
