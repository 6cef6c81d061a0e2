"""Writing HCL for bake: escaped strings and a tiny deterministic block writer."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_TARGET_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_SIMPLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

Value = str | bool | Sequence[str] | Mapping[str, str]


def quote(text: str) -> str:
    """An HCL quoted-string literal whose value is exactly ``text``.

    HCL quoted strings are templates: ``${`` and ``%{`` start interpolations and
    directives, so they are doubled (``$${``, ``%%{``), which HCL reads back as literals.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "$%" and text.startswith("{", i + 1):
            out.append(char + char + "{")
            i += 2
            continue
        if char in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
        i += 1
    return '"' + "".join(out) + '"'


def target_name(*parts: str) -> str:
    """A bake target/group name (``[A-Za-z0-9_-]+``) built from ``parts``."""
    return _TARGET_UNSAFE.sub("_", "_".join(parts)) or "_"


def _value(value: Value, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = "".join(f"{indent}  {quote(k)} = {quote(v)}\n" for k, v in sorted(value.items()))
        return "{\n" + inner + indent + "}"
    if not value:
        return "[]"
    if len(value) == 1:
        return f"[{quote(value[0])}]"
    inner = "".join(f"{indent}  {quote(item)},\n" for item in value)
    return "[\n" + inner + indent + "]"


def block(kind: str, name: str, attributes: Sequence[tuple[str, Value | None]]) -> str:
    """``kind "name" { key = value ... }``; attributes with value None are left out."""
    lines = [f"{kind} {quote(name)} {{"]
    for key, value in attributes:
        if value is not None:
            lines.append(f"  {key} = {_value(value, '  ')}")
    lines.append("}")
    return "\n".join(lines) + "\n"
