"""Docker-compatible ``.dockerignore`` matching.

Semantics follow what BuildKit does with a local context: buildx reads the file like
``moby/patternmatcher/ignorefile.ReadAll`` and fsutil's walker matches each path with
``PatternMatcher.MatchesUsingParentResults``:

- a line whose first character is ``#`` is a comment (a UTF-8 BOM is dropped first);
  other lines are trimmed, blank ones skipped, ``!`` marks an exception;
- patterns are cleaned like Go's ``filepath.Clean``; a leading ``/`` is dropped, ``./``
  disappears in the cleaning;
- ``*`` and ``?`` never match ``/``; ``**`` matches any number of directories; ``[...]``
  classes and ``\\`` escapes follow Go's ``filepath.Match``;
- every pattern that matched a directory stays matched for everything below it (the
  "parent dir match" rule: ``foo`` excludes ``foo/bar``), and the last matching pattern
  wins, so ``!`` can re-include a file below an excluded directory.

Deviations, all in corner cases no real ignore file uses: ``*``/``?`` inside ``[...]`` are
class members (patternmatcher turns them into broken regexes), and ``\\d``-style escapes
mean the letter, not a regex class.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from slcc.errors import InputError
from slcc.loading import files

# Per pattern: did it match this directory or one above it (patternmatcher's MatchInfo).
MatchState = tuple[bool, ...]

# Go's unicode.IsSpace set, which is Python's minus the ASCII separators \x1c-\x1f.
_GO_SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in "\x1c\x1d\x1e\x1f")
_BOM = "\ufeff"
_GLOB_CHARS = frozenset("*?[\\^")


class _BadPattern(ValueError):
    pass


def _go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` on '/' paths; posixpath keeps a leading '//', Go does not."""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _read_line(raw: str, first: bool) -> str | None:
    """One line as ignorefile.ReadAll reads it: None for comments and blank lines."""
    if first:
        raw = raw.removeprefix(_BOM)
    if raw.startswith("#"):
        return None
    pattern = raw.strip(_GO_SPACE)
    if not pattern:
        return None
    invert = pattern[0] == "!"
    if invert:
        pattern = pattern[1:].strip(_GO_SPACE)
    if pattern:
        pattern = _go_clean(pattern)
        if len(pattern) > 1 and pattern[0] == "/":
            pattern = pattern[1:]
    return "!" + pattern if invert else pattern


def _get_esc(p: str, i: int) -> tuple[str, int]:
    """One class member as Go's filepath.Match ``getEsc`` reads it."""
    if i >= len(p) or p[i] in "-]":
        raise _BadPattern("bad character class")
    if p[i] == "\\":
        i += 1
        if i >= len(p):
            raise _BadPattern("trailing backslash in character class")
    ch = p[i]
    i += 1
    if i >= len(p):
        raise _BadPattern("unterminated character class")
    return ch, i


def _class_regex(p: str, i: int) -> tuple[str, int]:
    """Translate the class starting after '[' at ``p[i]``; returns regex and next index."""
    out = ["["]
    if i < len(p) and p[i] == "^":
        out.append("^")
        i += 1
    nrange = 0
    while True:
        if i < len(p) and p[i] == "]" and nrange > 0:
            out.append("]")
            return "".join(out), i + 1
        lo, i = _get_esc(p, i)
        out.append(re.escape(lo))
        if p[i] == "-":  # _get_esc guarantees i < len(p)
            hi, i = _get_esc(p, i + 1)
            out.append("-" + re.escape(hi))
        nrange += 1


def _pattern_regex(p: str) -> str:
    """Regex (for ``re.match``) equivalent to patternmatcher's compiled pattern ``p``.

    patternmatcher picks exact/prefix/suffix/regexp matching from the pattern's shape; the
    shape rules are kept here because they differ from the plain regex for ``**`` patterns:
    ``dir/**`` is a string prefix match and ``**foo`` a string suffix match.
    """
    parts: list[str] = []
    kind = "exact"
    i = 0
    while i < len(p):
        start, ch = i, p[i]
        i += 1
        if ch == "*" and i < len(p) and p[i] == "*":
            i += 1
            if i < len(p) and p[i] == "/":
                i += 1  # "**/" is "**"
            if i < len(p):
                parts.append("(.*/)?")
                kind = "regexp"
            elif kind == "exact":
                kind = "prefix"
            else:
                parts.append(".*")
                kind = "regexp"
            if start == 0:
                kind = "suffix"
        elif ch in "*?":
            parts.append("[^/]*" if ch == "*" else "[^/]")
            kind = "regexp"
        elif ch == "\\":
            if i >= len(p):
                raise _BadPattern("trailing backslash")
            parts.append(re.escape(p[i]))
            i += 1
            kind = "regexp"
        elif ch == "[":
            cls, i = _class_regex(p, i)
            parts.append(cls)
            kind = "regexp"
        elif ch == "]":
            parts.append(r"\]")
            kind = "regexp"
        elif ch == "^":
            parts.append("^")  # patternmatcher passes '^' to the regex unescaped: an anchor
        else:
            parts.append(re.escape(ch))
    return _shaped_regex(p, kind, parts)


def _shaped_regex(p: str, kind: str, parts: list[str]) -> str:
    """The regex for pattern ``p`` of the shape patternmatcher chose (``parts``: its regexp form)."""
    if kind == "exact":
        return re.escape(p) + r"\Z"
    if kind == "prefix":
        return re.escape(p[:-2])
    if kind == "suffix":
        suffix = p[2:]
        alt = f"|{re.escape(suffix[1:])}\\Z" if suffix.startswith("/") else ""
        return f"(?s:.*){re.escape(suffix)}\\Z{alt}"
    return "".join(parts) + r"\Z"


def _literal_prefix(p: str) -> str | None:
    """The fixed text every match of ``p`` starts with, or None when it can start anywhere."""
    if p.startswith("**"):
        return None
    for i, ch in enumerate(p):
        if ch in _GLOB_CHARS:
            return p[:i]
    return p + "/"  # a literal pattern re-includes itself and everything below it


class IgnoreMatcher:
    """Compiled ``.dockerignore`` patterns; immutable and safe to share."""

    __slots__ = ("_any", "_exclusions", "_matchers", "_patterns", "_prefixes", "_union", "_zero")

    def __init__(self, patterns: Iterable[str] = (), *, source: Path | str | None = None) -> None:
        """Compile already-read patterns (``!`` prefix for exceptions), as patternmatcher.New."""
        texts: list[str] = []
        matchers: list[tuple[bool, Callable[[str], object]]] = []
        prefixes: list[str | None] = []
        for lineno, raw in enumerate(patterns, 1):
            p = _go_clean(raw.strip(_GO_SPACE)) if raw.strip(_GO_SPACE) else ""
            if not p:
                continue
            exclusion = p[0] == "!"
            body = p[1:] if exclusion else p
            try:
                if not body:
                    raise _BadPattern('illegal exclusion pattern: "!"')
                regex = re.compile(_pattern_regex(body))
            except (_BadPattern, re.error) as exc:
                msg = f"line {lineno}: invalid pattern {raw.strip()!r}: {exc}"
                raise InputError(msg, source) from None
            texts.append(p)
            matchers.append((exclusion, regex.match))
            prefixes.append(_literal_prefix(body) if exclusion else "")
        self._patterns = tuple(texts)
        self._matchers = tuple(matchers)
        self._prefixes = tuple(prefixes)
        self._exclusions = any(excl for excl, _ in matchers)
        # Most paths match no pattern: one regex over all of them answers that in one call.
        bodies = [t.removeprefix("!") for t in texts]
        self._union = re.compile("|".join(f"(?:{_pattern_regex(b)})" for b in bodies)).match
        self._zero: MatchState = (False,) * len(matchers)
        # Without exceptions a path is ignored when any pattern matches it or a parent.
        self._any = self._union if matchers and not self._exclusions else None

    @classmethod
    def from_lines(cls, lines: Iterable[str], *, source: Path | str | None = None) -> IgnoreMatcher:
        """Parse ``.dockerignore`` lines; ``source`` names the file in error messages."""
        patterns = []
        for lineno, raw in enumerate(lines, 1):
            pattern = _read_line(raw.rstrip("\n").removesuffix("\r"), lineno == 1)
            # Keep line numbers for error messages: blank entries are skipped by __init__.
            patterns.append(pattern or "")
        return cls(patterns, source=source)

    @classmethod
    def from_file(cls, path: Path) -> IgnoreMatcher:
        """Read an ignore file; a missing file ignores nothing."""
        try:
            data = files.read_regular(path, "ignore file")
        except FileNotFoundError:
            return cls()
        # surrogateescape: patterns must meet undecodable file names the way os.scandir gives them.
        return cls.from_lines(data.decode("utf-8", "surrogateescape").split("\n"), source=path)

    @property
    def patterns(self) -> tuple[str, ...]:
        """Normalised pattern text in file order, exceptions with their ``!``."""
        return self._patterns

    @property
    def has_exclusions(self) -> bool:
        return self._exclusions

    def __bool__(self) -> bool:
        return bool(self._matchers)

    def match(self, relpath: str, parent: MatchState | None) -> tuple[bool, MatchState]:
        """Is ``relpath`` ignored, given its directory's state (None at the top level)?

        Returns the state to pass to the entries of ``relpath`` when it is a directory.
        """
        if self._any is not None:
            ignored = bool(parent and parent[0]) or self._any(relpath) is not None
            return ignored, (ignored,)
        if (parent is None or parent is self._zero) and self._union(relpath) is None:
            return False, self._zero
        matched = False
        state = []
        for i, (exclusion, pattern_match) in enumerate(self._matchers):
            hit = parent[i] if parent else False
            if not hit:
                # An inclusion cannot change an ignored path, nor an exception a kept one.
                if exclusion != matched:
                    state.append(False)
                    continue
                hit = pattern_match(relpath) is not None
            state.append(hit)
            if hit:
                matched = not exclusion
        return matched, tuple(state) if any(state) else self._zero

    def _state(self, relpath: str) -> tuple[bool, MatchState | None]:
        ignored, state = False, None
        parts = relpath.strip("/").split("/")
        for n in range(1, len(parts) + 1):
            ignored, state = self.match("/".join(parts[:n]), state)
        return ignored, state

    def is_ignored(self, relpath: str) -> bool:
        """Is ``relpath`` ('/'-separated, relative to the context root) left out of the context?"""
        relpath = _go_clean(relpath)
        if relpath in (".", "/") or not self._matchers:
            return False
        return self._state(relpath)[0]

    def may_reinclude_below(self, reldir: str) -> bool:
        """Could an exception re-include anything below the ignored directory ``reldir``?

        False means a walker may prune ``reldir``. Exact for literal exceptions, conservative
        for exceptions with wildcards.
        """
        if not self._exclusions:
            return False
        reldir = _go_clean(reldir)
        return self.may_reinclude_below_state(reldir, self._state(reldir)[1])

    def may_reinclude_below_state(self, reldir: str, state: MatchState | None) -> bool:
        """``may_reinclude_below`` for a walker that already has ``reldir``'s match state."""
        if not self._exclusions:
            return False
        # Patterns matched at reldir stay matched below it, so only an exception after the last
        # such inclusion can flip a descendant back to included.
        last_incl = -1
        if state:
            last_incl = max(
                (i for i, hit in enumerate(state) if hit and not self._matchers[i][0]), default=-1
            )
        below = reldir + "/"
        for i in range(last_incl + 1, len(self._matchers)):
            if not self._matchers[i][0]:
                continue
            prefix = self._prefixes[i]
            if prefix is None or prefix.startswith(below) or below.startswith(prefix):
                return True
        return False
