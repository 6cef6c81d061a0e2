"""Read what a Dockerfile refers to: its ARGs, and the names it builds from.

This is not a full Dockerfile parser. It extracts exactly what slcc needs to validate a
step and to hash it precisely: which build args the file declares (only those can change
the image), and which external names it uses in ``FROM``, ``COPY --from`` and
``RUN --mount=...,from=`` (those must be declared dependencies or mappings).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from slcc.errors import InputError
from slcc.loading import files, shellwords


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
    # First path components of COPY/ADD sources read from the main context (no --from).
    sources: tuple[Reference, ...] = ()
    placeholders: tuple[tuple[int, str], ...] = ()  # exaslct's {{ name }}: (line, text)


_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC_WORD = re.compile(r"^(\d*)<<(-?)([^<]*)$")  # BuildKit 0.13's reHeredoc
_HEREDOC_INSTRUCTIONS = ("ADD", "COPY", "RUN")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
_GLOB = re.compile(r"[*?\[$]")


class DockerfileSyntaxError(ValueError):
    """Input BuildKit's parser rejects; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


@dataclass
class _Directives:
    """BuildKit's directive parser: only an unbroken run of known ``# key=value`` lines at the top."""

    escape: str = "\\"
    done: bool = False
    seen: set[str] = field(default_factory=set)

    def feed(self, line: str, number: int) -> None:
        if self.done:
            return
        match = _DIRECTIVE.match(line[1:].lstrip()) if line.startswith("#") else None
        name = match.group(1).lower() if match else ""
        if name not in _KNOWN_DIRECTIVES:
            self.done = True  # an unknown directive ends directives: a later escape= is a comment
            return
        if name in self.seen:
            raise DockerfileSyntaxError(f"only one {name} parser directive can be used", number)
        self.seen.add(name)
        if name == "escape":
            value = match.group(2) if match else ""
            if value not in ("`", "\\"):
                raise DockerfileSyntaxError(f"invalid escape token {value!r} does not match ` or \\", number)
            self.escape = value

    def continuation(self, line: str) -> tuple[str, bool]:
        """``line`` without its continuation escape, and whether the logical line ends here."""
        if not line.rstrip(" \t").endswith(self.escape):
            return line, True  # most lines: no pattern to compile or search
        e = re.escape(self.escape)
        match = re.search(rf"(^|[^{e}]){e}[ \t]*$", line)
        if match is None:
            return line, True
        return line[: match.start()] + match.group(1), False


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _logical_lines(text: str) -> tuple[list[tuple[int, str]], str]:
    """Instructions with their first line number, as BuildKit's ``parser.Parse`` joins them.

    Continuation lines are joined without separator; comment and empty lines inside a
    continuation are skipped; heredoc bodies are consumed. Returns the escape character too.
    """
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    directives = _Directives()
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        token = lines[i].rstrip("\r\n").lstrip()
        i += 1
        start = i
        directives.feed(token, i)
        token, end = directives.continuation("" if token.startswith("#") else token)
        if end and not token:
            continue
        parts = [token]
        while not end and i < len(lines):
            raw = lines[i].rstrip("\r\n")
            i += 1
            directives.feed(raw, i)
            if _is_comment(raw) or not raw.strip():
                continue
            token, end = directives.continuation(raw)
            parts.append(token)
        line = "".join(parts)
        out.append((start, line))
        i = _skip_heredocs(line, lines, i, start, directives.escape)
    return out, directives.escape


def _heredocs(line: str) -> list[tuple[str, bool]]:
    """(terminator, strip leading tabs) for each heredoc the instruction opens."""
    keyword, _, rest = line.strip().partition(" ")
    if keyword.upper() not in _HEREDOC_INSTRUCTIONS or "<<" not in line or rest.lstrip().startswith("["):
        return []
    docs = []
    for word in shellwords.raw_words(line):
        match = _HEREDOC_WORD.match(word)
        if not match or not match.group(3):
            continue
        try:
            name = _shell_split(match.group(3))
        except shellwords.ShellError:
            continue
        if len(name) == 1:
            docs.append((name[0], match.group(2) == "-"))
    return docs


def _skip_heredocs(line: str, lines: list[str], i: int, start: int, escape: str) -> int:
    """The index after the heredoc bodies ``line`` opens; the terminator must match exactly."""
    for terminator, chomp in _heredocs(line):
        while True:
            if i >= len(lines):
                raise DockerfileSyntaxError(f"unterminated heredoc {terminator!r}", start)
            candidate = lines[i].rstrip("\r\n")
            i += 1
            if (candidate.lstrip("\t") if chomp else candidate) == terminator:
                break
    return i


def _shell_split(text: str) -> list[str]:
    """Words of ``text`` after quote removal (``$`` kept: heredoc names are never expanded)."""
    return [shellwords.expand(w, {}, keep_unset=True) for w in shellwords.raw_words(text)]


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
    """Parse ``path``; ``args`` are the build args bake passes (they override ARG defaults)."""
    try:
        text = files.read_text(path, "Dockerfile")
    except FileNotFoundError:
        raise InputError("Dockerfile not found", path) from None
    try:
        return parse_text(text, args or {})
    except DockerfileSyntaxError as exc:
        raise InputError(str(exc), path) from None


@dataclass
class _Scope:
    """ARG values as BuildKit sees them: global ones (before the first FROM) feed FROM lines."""

    args: dict[str, str]  # build args given to bake
    escape: str
    meta: dict[str, str] = field(default_factory=dict)
    stage: dict[str, str] = field(default_factory=dict)
    in_stage: bool = False
    declared: set[str] = field(default_factory=set)

    def arg(self, rest: str, line: int) -> None:
        for word in _split(rest):
            name, has_value, default = word.partition("=")
            self.declared.add(name)
            env = self.stage if self.in_stage else self.meta
            if name in self.args:
                env[name] = self.args[name]
            elif has_value:
                env[name] = self.expand(default, env, line)
            elif self.in_stage and name in self.meta:
                env[name] = self.meta[name]  # ARG NAME in a stage imports the global value

    def expand(self, word: str, env: dict[str, str], line: int) -> str:
        try:
            return shellwords.expand(word, env, self.escape)
        except shellwords.ShellError as exc:
            raise DockerfileSyntaxError(str(exc), line) from None


def parse_text(text: str, args: dict[str, str]) -> DockerfileInfo:
    lines, escape = _logical_lines(text)
    scope = _Scope(args, escape)
    stages: list[str] = []
    refs: list[Reference] = []

    def external(name: str, line: int, instruction: str) -> None:
        if name.isdigit() or name.lower() in {s.lower() for s in stages} or name == "scratch":
            return
        refs.append(Reference(name, line, instruction))

    sources: list[Reference] = []
    placeholders = tuple((n, m.group(0)) for n, raw in enumerate(text.splitlines(), 1)
                         if not raw.lstrip().startswith("#") for m in _PLACEHOLDER.finditer(raw))
    for line_no, line in lines:
        keyword, rest = [*_WHITESPACE.split(line.strip(), maxsplit=1), ""][:2]
        keyword = keyword.upper()
        if keyword == "ARG":
            scope.arg(rest, line_no)
        elif keyword == "FROM":
            _, words = _flags(rest.split())
            if not words:
                continue
            image = scope.expand(words[0], scope.meta, line_no)
            if not image:
                raise DockerfileSyntaxError(f"base name ({words[0]}) should not be blank", line_no)
            external(image, line_no, "FROM")
            scope.in_stage, scope.stage = True, {}
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.append(words[2])
        elif keyword in ("COPY", "ADD"):
            flags, words = _flags(_split(rest))
            for source in flags.get("from", []):
                external(_substitute(source, scope.stage), line_no, "COPY")
            if "from" not in flags:
                sources.extend(_context_sources(words, line_no, keyword))
        elif keyword == "RUN":
            flags, _ = _flags(_split(rest))
            for mount in flags.get("mount", []):
                for option in mount.split(","):
                    key, _, value = option.partition("=")
                    if key.strip().lower() == "from" and value:
                        external(_substitute(value, scope.stage), line_no, "RUN")
    return DockerfileInfo(frozenset(scope.declared), tuple(refs), tuple(stages), tuple(sources), placeholders)


def _context_sources(words: list[str], line: int, keyword: str) -> list[Reference]:
    """The top-level names a COPY/ADD reads from the context; unknowable ones are left out."""
    if words and words[0].startswith("["):
        return []  # JSON form: rare, left to BuildKit
    found = []
    for word in words[:-1]:
        if "<<" in word or "://" in word or word.startswith("git@"):
            return []  # heredoc or remote source
        first = word.lstrip("/")
        while first.startswith("./"):
            first = first[2:].lstrip("/")
        first = first.split("/", 1)[0]
        if first and first not in (".", "..") and not _GLOB.search(first):
            found.append(Reference(first, line, keyword))
    return found


def _substitute(value: str, env: dict[str, str]) -> str:
    """``--from`` values: variables with a value are expanded, others kept as written."""
    if "$" not in value:
        return value
    try:
        expanded = shellwords.expand(value, env)
    except shellwords.ShellError:
        return value
    return expanded if all(n in env for n in re.findall(r"\$\{?(\w+)", value)) else value


def stage_instructions(text: str) -> tuple[tuple[str, ...], ...]:
    """Each stage's instructions (continuations joined, FROM first), for naming a vertex's step.

    Unparseable text has no stages: progress attribution then falls back to the label.
    """
    try:
        lines, _ = _logical_lines(text)
    except DockerfileSyntaxError:
        return ()
    stages: list[list[str]] = []
    for _, line in lines:
        if line.split(None, 1)[0].upper() == "FROM":
            stages.append([])
        if stages:  # ARGs before the first FROM belong to no stage
            stages[-1].append(line.strip())
    return tuple(tuple(stage) for stage in stages)
