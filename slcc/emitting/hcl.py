"""Writing HCL for bake: escaped strings and a tiny deterministic block writer."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_TARGET_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class Expression(str):
    """HCL text written as is (a variable reference, a function call), never quoted."""


Value = str | bool | Sequence[str] | Mapping[str, str]


_SPECIAL = re.compile(r'[\\"\x00-\x1f\x7f]|[$%]\{')


def _escape(match: re.Match[str]) -> str:
    text = match.group(0)
    if text in ("${", "%{"):
        return text[0] + text  # HCL reads $${ and %%{ back as the literal text
    return _SIMPLE_ESCAPES.get(text) or f"\\u{ord(text):04x}"


def quote(text: str) -> str:
    """An HCL quoted-string literal whose value is exactly ``text``.

    HCL quoted strings are templates: ``${`` and ``%{`` start interpolations and
    directives, so they are doubled (``$${``, ``%%{``), which HCL reads back as literals.
    """
    return '"' + _SPECIAL.sub(_escape, text) + '"'


def interpolated(before: str, variable: str, after: str) -> Expression:
    """A quoted HCL template: literal ``before``, the value of ``variable``, literal ``after``."""
    return Expression(quote(before)[:-1] + "${" + variable + "}" + quote(after)[1:])


def call(function: str, *arguments: str) -> Expression:
    """A call of an HCL function with string-literal arguments."""
    return Expression(f"{function}({', '.join(quote(a) for a in arguments)})")


def _scalar(text: str) -> str:
    return text if isinstance(text, Expression) else quote(text)


def target_name(*parts: str) -> str:
    """A bake target/group name (``[A-Za-z0-9_-]+``) built from ``parts``."""
    return _TARGET_UNSAFE.sub("_", "_".join(parts)) or "_"


def _value(value: Value, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _scalar(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = "".join(f"{indent}  {quote(k)} = {_scalar(v)}\n" for k, v in sorted(value.items()))
        return "{\n" + inner + indent + "}"
    if not value:
        return "[]"
    if len(value) == 1:
        return f"[{_scalar(value[0])}]"
    inner = "".join(f"{indent}  {_scalar(item)},\n" for item in value)
    return "[\n" + inner + indent + "]"


def block(kind: str, name: str, attributes: Sequence[tuple[str, Value | None]]) -> str:
    """``kind "name" { key = value ... }``; attributes with value None are left out."""
    lines = [f"{kind} {quote(name)} {{"]
    for key, value in attributes:
        if value is not None:
            lines.append(f"  {key} = {_value(value, '  ')}")
    lines.append("}")
    return "\n".join(lines) + "\n"
