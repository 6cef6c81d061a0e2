"""The part of BuildKit's Dockerfile shell lexer (frontend/dockerfile/shell/lex.go) slcc needs.

``expand`` turns one word into its value the way BuildKit does for ``FROM`` and ARG
defaults: quotes removed, escapes applied, ``$NAME`` and ``${NAME}`` expanded with the
``-``, ``+``, ``?`` (each also with ``:``), ``#``, ``##``, ``%``, ``%%`` and ``/``, ``//``
modifiers; an unset name expands to "". ``raw_words`` splits a line into words with quotes
and escapes kept, as BuildKit's heredoc detection does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class ShellError(ValueError):
    """A word BuildKit's lexer would reject (unterminated quote or ``${``, bad modifier)."""


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str, keep_unset: bool) -> None:
        self.text, self.pos, self.env, self.escape = text, 0, env, escape
        self.keep_unset = keep_unset  # BuildKit's SkipUnsetEnv: unset variables stay as written

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def word(self, stop: str = "", raw_escapes: bool = False) -> str:
        """Characters up to ``stop`` (consumed; "" means the end), quotes and ``$`` processed."""
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if stop and ch == stop:
                self.pos += 1
                return "".join(out)
            if ch == "'":
                out.append(self._single())
            elif ch == '"':
                out.append(self._double())
            elif ch == "$":
                out.append(self._dollar())
            else:
                self.pos += 1
                if ch == self.escape:
                    if raw_escapes:
                        out.append(ch)
                    ch = self.next()
                out.append(ch)
        if stop:
            raise ShellError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def _single(self) -> str:
        self.pos += 1
        end = self.text.find("'", self.pos)
        if end < 0:
            raise ShellError("unexpected end of statement while looking for matching single-quote")
        value, self.pos = self.text[self.pos : end], end + 1
        return value

    def _double(self) -> str:
        self.pos += 1
        out: list[str] = []
        while True:
            ch = self.next()
            if ch == "":
                raise ShellError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                return "".join(out)
            if ch == "$":
                self.pos -= 1
                out.append(self._dollar())
            elif ch == self.escape and self.peek() in ('"', "$", self.escape):
                out.append(self.next())
            else:
                out.append(ch)

    def _name(self) -> str:
        match = re.compile(r"[0-9]+|[@*#?\-$!0]|\w*").match(self.text, self.pos)
        name = match.group(0) if match else ""
        self.pos += len(name)
        return name

    def _dollar(self) -> str:
        self.pos += 1
        start = self.pos - 1
        if self.peek() != "{":
            name = self._name()
            if self.keep_unset and name not in self.env:
                return "$" + name
            return self.env.get(name, "") if name else "$"
        self.pos += 1
        if self.peek() in ("", "{", "}", ":"):
            raise ShellError("syntax error: bad substitution" if self.peek() else "syntax error: missing '}'")
        name = self._name()
        op = self.next()
        if op == "":
            raise ShellError("syntax error: missing '}'")
        if op == "}":
            return self.text[start : self.pos] if self.keep_unset and name not in self.env else self.env.get(name, "")
        if op == "/":
            return self._replace(name)
        null_is_unset = op == ":"
        if null_is_unset:
            op = self.next()
        if op not in ("+", "-", "?", "#", "%") or (null_is_unset and op in "#%"):
            raise ShellError(f"unsupported modifier ({op}) in substitution")
        word = self.word("}", raw_escapes=op in "#%")
        if self.keep_unset and name not in self.env:
            return self.text[start : self.pos]
        return _modify(name, op, null_is_unset, word, self.env)

    def _replace(self, name: str) -> str:
        everywhere = self.peek() == "/"
        if everywhere:
            self.pos += 1
        pattern = self.word("/", raw_escapes=True)
        replacement = self.word("}", raw_escapes=True)
        regex = _pattern(pattern, greedy=True)
        return regex.sub(lambda _m: replacement, self.env.get(name, ""), count=0 if everywhere else 1)


def _pattern(pattern: str, greedy: bool) -> re.Pattern[str]:
    """A shell glob (``*``, ``?``, ``[...]``, ``\\`` escapes) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*" if greedy else ".*?")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[" and (end := pattern.find("]", i + 1)) > i:
            out.append("[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.S)


def _modify(name: str, op: str, null_is_unset: bool, word: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    unset = value is None or (null_is_unset and value == "")
    if op == "-":
        return word if unset else str(value)
    if op == "+":
        return "" if unset else word
    if op == "?":
        if unset:
            default = "is not allowed to be unset" if value is None else "is not allowed to be empty"
            raise ShellError(f"{name}: {word or default}")
        return str(value)
    greedy = word.startswith(op)
    regex = _pattern(word[1:] if greedy else word, greedy)
    text = value or ""
    candidates = range(len(text) + 1) if not greedy else range(len(text), -1, -1)
    for cut in candidates:
        part = text[:cut] if op == "#" else text[len(text) - cut :]
        if regex.fullmatch(part):
            return text[cut:] if op == "#" else text[: len(text) - cut]
    return text


def expand(word: str, env: Mapping[str, str], escape: str = "\\", keep_unset: bool = False) -> str:
    """``word`` as BuildKit's ProcessWord gives it (ShellError where BuildKit fails)."""
    return _Lexer(word, env, escape, keep_unset).word()


def raw_words(line: str, escape: str = "\\") -> list[str]:
    """Whitespace-separated words with quotes and escapes kept (``$`` is not expanded)."""
    words: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch in "'\"":
            end = i + 1
            while end < len(line) and line[end] != ch:
                end += 2 if ch == '"' and line[end] == escape else 1
            current.append(line[i : end + 1])
            i = end + 1
            continue
        if ch == escape:
            current.append(line[i : i + 2])
            i += 2
            continue
        if ch.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
        i += 1
    if current:
        words.append("".join(current))
    return words
