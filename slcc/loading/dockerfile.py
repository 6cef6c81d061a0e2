"""Read what a Dockerfile refers to: its ARGs, and the names it builds from.

This is not a full Dockerfile parser. It extracts exactly what slcc needs to validate a
step and to hash it precisely: which build args the file declares (only those can change
the image), and which external names it uses in ``FROM``, ``COPY --from`` and
``RUN --mount=...,from=`` (those must be declared dependencies or mappings).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from slcc.errors import InputError
from slcc.loading import files

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<-?(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Reference:
    """A name the Dockerfile builds from, with the line it appears on."""

    name: str
    line: int
    instruction: str  # FROM, COPY or RUN


@dataclass(frozen=True)
class DockerfileInfo:
    declared_args: frozenset[str]
    references: tuple[Reference, ...]  # external names only: stage names are resolved away
    stages: tuple[str, ...]


def _logical_lines(text: str, escape: str) -> list[tuple[int, str]]:
    """Join continuation lines, drop comments and heredoc bodies; keep the first line number."""
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    i = 0
    current: list[str] = []
    start = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continuation are ignored by Docker too
        if not current:
            start = i
        if stripped.endswith(escape):
            current.append(stripped[: -len(escape)])
            continue
        current.append(stripped)
        logical = " ".join(current)
        current = []
        out.append((start, logical))
        # Skip heredoc bodies: their content is data, not instructions.
        for match in _HEREDOC.finditer(logical):
            terminator = match.group(2)
            while i < len(lines) and lines[i].strip() != terminator:
                i += 1
            i += 1
    if current:
        out.append((start, " ".join(current)))
    return out


def _escape_char(text: str) -> str:
    for raw in text.splitlines():
        match = _DIRECTIVE.match(raw.strip())
        if not match:
            break
        if match.group(1).lower() == "escape":
            return match.group(2)
    return "\\"


def _substitute(value: str, known: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return known.get(name, m.group(0))

    return _VAR.sub(repl, value)


def _flags(words: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    flags: dict[str, list[str]] = {}
    rest: list[str] = []
    for index, word in enumerate(words):
        if word.startswith("--"):
            key, _, value = word[2:].partition("=")
            flags.setdefault(key.lower(), []).append(value)
        else:
            rest = words[index:]
            break
    return flags, rest


def _split(line: str) -> list[str]:
    if "'" not in line and '"' not in line and "\\" not in line:
        return line.split()  # nothing to unquote: much faster than shlex
    try:
        return shlex.split(line, posix=True)
    except ValueError:
        return line.split()


def parse(path: Path, args: dict[str, str] | None = None) -> DockerfileInfo:
    """Parse ``path``; ``args`` are values used to expand ``FROM ${VAR}`` references."""
    try:
        text = files.read_text(path, "Dockerfile")
    except FileNotFoundError:
        raise InputError("Dockerfile not found", path) from None
    return parse_text(text, args or {})


def parse_text(text: str, args: dict[str, str]) -> DockerfileInfo:
    escape = _escape_char(text)
    declared: set[str] = set()
    known: dict[str, str] = {}
    stages: list[str] = []
    refs: list[Reference] = []

    def external(name: str, line: int, instruction: str) -> None:
        if name.isdigit() or name.lower() in {s.lower() for s in stages} or name == "scratch":
            return
        refs.append(Reference(name, line, instruction))

    for line_no, line in _logical_lines(text, escape):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG":
            for word in _split(rest):
                name, has_value, default = word.partition("=")
                declared.add(name)
                if name in args:
                    known[name] = args[name]
                elif has_value:
                    known.setdefault(name, default)
        elif keyword == "FROM":
            flags, words = _flags(_split(rest))
            if not words:
                continue
            image = _substitute(words[0], known)
            external(image, line_no, "FROM")
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.append(words[2])
        elif keyword == "COPY":
            flags, _ = _flags(_split(rest))
            for source in flags.get("from", []):
                external(_substitute(source, known), line_no, "COPY")
        elif keyword == "RUN":
            flags, _ = _flags(_split(rest))
            for mount in flags.get("mount", []):
                for option in mount.split(","):
                    key, _, value = option.partition("=")
                    if key.strip().lower() == "from" and value:
                        external(_substitute(value, known), line_no, "RUN")
    return DockerfileInfo(frozenset(declared), tuple(refs), tuple(stages))
