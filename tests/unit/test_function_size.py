"""No function in slcc/ is longer than 50 lines (team standard); measured from the AST."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "slcc"
LIMIT = 50


def long_functions(source: str) -> list[tuple[str, int]]:
    return [(node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and (node.end_lineno or node.lineno) - node.lineno + 1 > LIMIT]


def test_no_function_over_the_limit() -> None:
    found = {f"{path.relative_to(PACKAGE)}:{name}": lines for path in sorted(PACKAGE.rglob("*.py"))
             for name, lines in long_functions(path.read_text(encoding="utf-8"))}
    assert found == {}


def test_the_check_counts_lines() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    assert long_functions(f"def f():\n{body}\n") == [("f", LIMIT + 1)]
    assert long_functions("def g():\n    pass\n") == []
