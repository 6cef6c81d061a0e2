"""Read an exaslct ``build_steps.py`` with ``ast``: never imported, never run.

exaslct declares each step as a class whose methods return constants. Only constant
returns are accepted; anything else (a computed value, an unknown method, module code
beyond imports and classes) is refused with file:line, because slcc could not know what
exaslct would do with it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from slcc.errors import InputError

_METHODS = {
    "get_build_step", "requires_tasks", "get_additional_build_directories_mapping",
    "get_path_in_flavor", "get_language_definition", "__init__",
}


@dataclass(frozen=True)
class ExaslctStep:
    """One step class of build_steps.py, as exaslct would see it."""

    class_name: str
    line: int
    name: str  # get_build_step()
    path_in_flavor: str  # "" when the step directory sits at the flavor root
    requires: tuple[tuple[str, str], ...]  # (placeholder key, class name), sorted by key
    mappings: tuple[tuple[str, str], ...]  # (destination in the context, source path), sorted
    language_definition: str  # "" when none


def _refuse(path: Path, node: ast.AST, problem: str) -> InputError:
    return InputError(f"{problem} (slcc reads build_steps.py without running it; only constant returns "
                      "are supported)", f"{path}:{getattr(node, 'lineno', 0)}")


def _constant_return(path: Path, func: ast.FunctionDef) -> ast.expr | None:
    body = list(func.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # docstring
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        raise _refuse(path, func, f"method {func.name} is not a single return statement")
    return body[0].value


def _string(path: Path, node: ast.expr | None, what: str) -> str:
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    raise _refuse(path, node if node is not None else ast.Pass(), f"{what} does not return a string constant")


def _dict(path: Path, node: ast.expr | None, what: str, values: type[ast.expr]) -> list[tuple[str, str]]:
    if node is None:
        return []
    if not isinstance(node, ast.Dict):
        raise _refuse(path, node, f"{what} does not return a dict literal")
    items: list[tuple[str, str]] = []
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            raise _refuse(path, key if key is not None else node, f"{what}: a key is not a string constant")
        if values is ast.Name and isinstance(value, ast.Name):
            items.append((key.value, value.id))
        elif values is ast.Constant and isinstance(value, ast.Constant) and isinstance(value.value, str):
            items.append((key.value, value.value))
        else:
            expected = "a class name" if values is ast.Name else "a string constant"
            raise _refuse(path, value, f"{what}: value of {key.value!r} is not {expected}")
    return sorted(items)


def _step(path: Path, cls: ast.ClassDef) -> ExaslctStep | None:
    returns: dict[str, ast.expr | None] = {}
    for node in cls.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # docstring
        if not isinstance(node, ast.FunctionDef):
            raise _refuse(path, node, f"class {cls.name} holds a statement that is not a method")
        if node.name not in _METHODS:
            raise _refuse(path, node, f"method {cls.name}.{node.name} is not one slcc knows")
        if node.name == "__init__":
            raise _refuse(path, node, f"class {cls.name} overrides __init__")
        returns[node.name] = _constant_return(path, node)
    if "get_build_step" not in returns:
        return None  # a helper base class, not a step
    name = _string(path, returns["get_build_step"], f"{cls.name}.get_build_step")
    if not name:
        raise _refuse(path, cls, f"{cls.name}.get_build_step returns an empty name")
    return ExaslctStep(
        class_name=cls.name,
        line=cls.lineno,
        name=name,
        path_in_flavor=_string(path, returns.get("get_path_in_flavor"), f"{cls.name}.get_path_in_flavor"),
        requires=tuple(_dict(path, returns.get("requires_tasks"), f"{cls.name}.requires_tasks", ast.Name)),
        mappings=tuple(_dict(path, returns.get("get_additional_build_directories_mapping"),
                             f"{cls.name}.get_additional_build_directories_mapping", ast.Constant)),
        language_definition=_string(path, returns.get("get_language_definition"),
                                    f"{cls.name}.get_language_definition"),
    )


def read_build_steps(path: Path) -> list[ExaslctStep]:
    """The steps of ``path`` in file order; InputError with file:line for anything not constant."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise InputError(f"invalid Python: {exc.msg}", f"{path}:{exc.lineno}") from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", path) from None
    steps: list[ExaslctStep] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # module docstring
        if not isinstance(node, ast.ClassDef):
            raise _refuse(path, node, "module code other than imports and classes")
        step = _step(path, node)
        if step is not None:
            steps.append(step)
    by_class = {s.class_name: s for s in steps}
    names: dict[str, ExaslctStep] = {}
    for step in steps:
        if step.name in names:
            raise InputError(f"step {step.name!r} is declared twice (also line {names[step.name].line})",
                             f"{path}:{step.line}")
        names[step.name] = step
        for key, cls in step.requires:
            if cls not in by_class:
                raise InputError(f"{step.class_name}.requires_tasks names {cls}, which is not a step class here",
                                 f"{path}:{step.line}")
            del key
    return steps
