"""Which view a build's progress gets: live on a capable terminal, lines or JSON elsewhere.

The live view (slcc.output.live_view) imports its terminal library (rich); it is imported here
only when a terminal will show a bake, so a build with nothing to do never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TextIO

from slcc.progress.printer import JsonView, LinesView, QuietView
from slcc.progress.tracker import ProgressView
from slcc.vocabulary import Progress


def live_capable(stream: TextIO | None, environ: Mapping[str, str] | None = None) -> bool:
    """A live view needs a terminal that can move the cursor (TERM not dumb)."""
    env = os.environ if environ is None else environ
    if stream is None or env.get("TERM", "") in ("dumb", "unknown"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def make_view(mode: Progress, echo: Callable[[str], None], terminal: TextIO | None) -> ProgressView:
    """auto: live on a capable terminal, else plain lines; plain adds instruction output.

    json writes its events straight to ``terminal`` (the CLI's stderr), where ``echo`` would
    wrap each line as a message event; without one, through ``echo``.
    """
    if mode == "quiet":
        return QuietView(echo)
    if mode == "json":
        return JsonView(_line_writer(terminal) if terminal is not None else echo)
    if mode == "auto" and live_capable(terminal):
        from slcc.output.live_view import LiveView  # noqa: PLC0415 - the terminal library only when live

        assert terminal is not None
        return LiveView(terminal)
    return LinesView(echo, output=mode == "plain")


def _line_writer(stream: TextIO) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()  # a consumer reads events as they happen
    return write
