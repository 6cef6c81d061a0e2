"""Rewrite one exaslct Dockerfile into slcc's form, recording every change with its line.

exaslct assembles one build context per step: the step directory under its own name,
each mapping under its destination name, plus generated files, and fills ``{{ key }}``
with dependency image names. slcc gives BuildKit the step directory as the context and
each directory mapping as a named context, and names dependencies by step name, so:

- ``{{ key }}`` / ``{{key}}`` becomes the step name exaslct's ``requires_tasks()[key]`` names;
- ``COPY [/]<own step>/x dst`` becomes ``COPY x dst``;
- ``COPY [/]<dir mapping>[/rest] dst`` becomes ``COPY --from=<mapping> rest-or-. dst``;
- files exaslct puts at the context root (file mappings, ``<step>_packages.yml``,
  ``language_definitions.json``) stay as they are: slcc puts them into the context too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from slcc.errors import InputError

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_JINJA = re.compile(r"\{\{|\{%|\{#")
_GLOB = re.compile(r"[*?\[]")
# The flavor_customization template tells exaslct users to prefix paths with the step name.
_TEMPLATE_HINT = re.compile(r"^# In case of exaslct it is important to prefix source files or directories with "
                            r"`flavor_customization`\s*$")
_TEMPLATE_HINT_2 = re.compile(r"^# if you want to copy files or directories located in the same directory as "
                              r"this Dockerfile\s*$")
_SLCC_HINT = ("# With slcc, files next to this Dockerfile are copied by their plain relative path",
              "# (no `flavor_customization/` prefix): COPY ./code.tar.gz /somewhere")


@dataclass(frozen=True)
class Rewrite:
    """One change the importer made, for the report."""

    file: str  # path relative to the source checkout
    line: int
    kind: str
    before: str
    after: str

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "kind": self.kind, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class StepContext:
    """What exaslct's assembled context for one step holds, by top-level name."""

    step: str
    requires: Mapping[str, str]  # placeholder key -> step name
    dir_mappings: frozenset[str]  # named contexts in slcc
    root_files: frozenset[str]  # files slcc places into the step's context


def _placeholders(line: str, ctx: StepContext, where: str) -> str:
    def repl(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in ctx.requires:
            known = ", ".join(sorted(ctx.requires)) or "none"
            raise InputError(f"placeholder {{{{{key}}}}} is not a key of requires_tasks() (keys: {known})", where)
        return ctx.requires[key]

    result = PLACEHOLDER.sub(repl, line)
    if _JINJA.search(result):
        raise InputError("Jinja beyond {{ name }} is not supported", where)
    return result


def _split_flags(words: list[str]) -> tuple[list[str], list[str]]:
    index = 0
    while index < len(words) and words[index].startswith("--"):
        index += 1
    return words[:index], words[index:]


def _rewrite_copy(line: str, ctx: StepContext, where: str) -> tuple[str, str]:
    """(new line, rewrite kind or "") for a COPY/ADD line without --from."""
    keyword, _, rest = line.strip().partition(" ")
    words = rest.split()
    flags, paths = _split_flags(words)
    if any(f.lower().startswith("--from") for f in flags) or len(paths) < 2 or rest.lstrip().startswith("["):
        if rest.lstrip().startswith("[") and "--from" not in rest:
            raise InputError(f"{keyword} in JSON form is not supported by the importer; use the shell form", where)
        return line, ""
    sources, dest = paths[:-1], paths[-1]
    kinds: set[str] = set()
    new_sources: list[str] = []
    mapping = ""
    for source in sources:
        clean = source.lstrip("/")
        clean = clean[2:] if clean.startswith("./") else clean
        first, _, tail = clean.partition("/")
        if _GLOB.search(first) or "$" in first:
            raise InputError(f"{keyword} source {source!r}: wildcards and variables in the first path "
                             "component cannot be mapped to a context", where)
        if first == ctx.step:
            kinds.add("own-step-prefix")
            new_sources.append(tail or ".")
        elif first in ctx.dir_mappings:
            kinds.add("mapping-as-named-context")
            mapping = first
            new_sources.append(tail or ".")
        elif first in ctx.root_files:
            kinds.add("")
            new_sources.append(source)
        else:
            raise InputError(f"{keyword} source {source!r} is in none of the contexts exaslct assembles "
                             f"(step {ctx.step!r}, mappings, generated files)", where)
    if len(kinds) > 1 or (mapping and len({s.lstrip('/').split('/')[0] for s in sources}) > 1):
        raise InputError(f"{keyword} mixes sources from different contexts; split it into one {keyword} "
                         "per context", where)
    kind = kinds.pop()
    if not kind:
        return line, ""
    from_flag = [f"--from={mapping}"] if mapping else []
    indent = line[: len(line) - len(line.lstrip())]
    return indent + " ".join([keyword, *flags, *from_flag, *new_sources, dest]), kind


def rewrite_dockerfile(text: str, ctx: StepContext, rel: str) -> tuple[str, list[Rewrite]]:
    """The slcc form of a Dockerfile and the changes made; InputError (file:line) if it cannot be."""
    out: list[str] = []
    rewrites: list[Rewrite] = []
    continued = False
    for number, line in enumerate(text.split("\n"), start=1):
        where = f"{rel}:{number}"
        new = _placeholders(line, ctx, where) if not line.lstrip().startswith("#") else line
        if new != line:
            rewrites.append(Rewrite(rel, number, "placeholder", line.strip(), new.strip()))
        stripped = new.strip()
        keyword = stripped.split(" ", 1)[0].upper() if stripped else ""
        if not continued and keyword in ("COPY", "ADD"):
            if stripped.endswith("\\"):
                if "--from" not in stripped:
                    raise InputError(f"multi-line {keyword} is not supported by the importer; join it", where)
            else:
                copied, kind = _rewrite_copy(new, ctx, where)
                if kind:
                    rewrites.append(Rewrite(rel, number, kind, new.strip(), copied.strip()))
                    new = copied
        elif _TEMPLATE_HINT.match(stripped) or _TEMPLATE_HINT_2.match(stripped):
            replacement = _SLCC_HINT[0] if _TEMPLATE_HINT.match(stripped) else _SLCC_HINT[1]
            rewrites.append(Rewrite(rel, number, "template-comment", stripped, replacement))
            new = replacement
        continued = bool(stripped) and stripped.endswith("\\") and not stripped.startswith("#")
        out.append(new)
    return "\n".join(out), rewrites


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
