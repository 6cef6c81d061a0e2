"""The pipeline's layers, checked from the import statements (ast, nothing imported).

Pure layers (loading, hashing, planning, emitting, output, progress) may import each other, the
shared foundation (errors, model, state) and the standard library, but never the engine adapter,
the commands or the CLI, and never a module that starts processes or opens sockets.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "slcc"
PURE_LAYERS = ("loading", "hashing", "planning", "emitting", "output", "progress", "importing")
FORBIDDEN_SLCC = ("slcc.engine", "slcc.commands", "slcc.cli", "slcc.serve")
FORBIDDEN_STDLIB = ("subprocess", "socket", "http", "urllib.request", "python_on_whales", "multiprocessing")


def imported_modules(source: str) -> set[str]:
    """Every module an import statement in ``source`` names (``from a import b`` gives a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layer_violations(source: str) -> list[str]:
    bad = FORBIDDEN_SLCC + FORBIDDEN_STDLIB
    return sorted(m for m in imported_modules(source) if any(m == b or m.startswith(b + ".") for b in bad))


def pure_modules() -> list[Path]:
    return sorted(p for layer in PURE_LAYERS if (PACKAGE / layer).is_dir() for p in (PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_module_imports_no_engine_command_or_process(path: Path) -> None:
    assert layer_violations(path.read_text(encoding="utf-8")) == []


def test_the_check_catches_an_engine_import() -> None:
    assert layer_violations("from slcc.engine import docker as engine\n") == ["slcc.engine", "slcc.engine.docker"]
    assert layer_violations("from slcc import engine\n") == ["slcc.engine"]
    assert layer_violations("import subprocess\n") == ["subprocess"]
    assert layer_violations("from slcc.commands.build import build\n") == ["slcc.commands.build",
                                                                           "slcc.commands.build.build"]


def test_every_layer_package_exists() -> None:
    for layer in ("loading", "hashing", "planning", "emitting", "output", "engine", "state", "commands"):
        assert (PACKAGE / layer / "__init__.py").is_file(), layer
