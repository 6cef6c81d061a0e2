"""The live build view on a terminal: one row per step, redrawn in place by rich's Live.

rich is imported here and only here, and this module only when a terminal shows a bake
(slcc.output.build_view.make_view); rich redraws by moving the cursor over its own lines
(no screen clearing, so no flicker), cuts rows to the terminal width and honours NO_COLOR.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from slcc.progress.records import StepEvent, StepRow

_ICONS = {"waiting": ("·", "dim"), "cached": ("✓", "dim green"), "done": ("✓", "green"),
          "failed": ("✗", "bold red"), "stopped": ("■", "yellow")}
_REFRESH_PER_SECOND = 8  # the spinner and the elapsed seconds move even while bake prints nothing


class LiveView:
    """Keeps the latest row of every step and redraws them; the final frame gives way to the report."""

    def __init__(self, stream: TextIO) -> None:
        self.console = Console(file=stream, highlight=False)
        self.rows: dict[str, StepRow] = {}
        self.started = time.monotonic()
        self.at = 0.0  # the bake's clock at the latest event; advanced by the wall clock between events
        self._seen = self.started
        self._lock = threading.Lock()
        self._spinner = Spinner("dots", style="cyan")
        self.live = Live(console=self.console, get_renderable=self._render, refresh_per_second=_REFRESH_PER_SECOND,
                         transient=True, redirect_stdout=False)
        self.live.start()

    def begin(self, steps: Sequence[str]) -> None:
        pass  # the header counts the steps and the rows name them: no line above the view

    def show(self, event: StepEvent) -> None:
        if event.output is not None:
            return  # output belongs to the log; a failure shows its tail after the view
        with self._lock:
            self.rows[event.row.step] = event.row
            self.at, self._seen = event.at, time.monotonic()
        self.live.refresh()

    def close(self) -> None:
        self.live.stop()

    def _render(self) -> RenderableType:
        with self._lock:
            rows = list(self.rows.values())
            now = self.at + (time.monotonic() - self._seen)
        return Group(_header(rows, now), _table(rows, now, self._spinner, self.console.width))


def _header(rows: list[StepRow], now: float) -> Text:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    return Text.assemble(("building ", "bold"), (f"{len(rows)} steps", "bold"), f": {parts}  ", (f"{now:.1f}s", "dim"))


def _table(rows: list[StepRow], now: float, spinner: Spinner, width: int) -> Table:
    step_width = max((len(row.step) for row in rows), default=1)
    # The instruction is cut here, not by the table: a long one must not squeeze the other columns.
    room = max(10, width - (1 + step_width + 7 + 7 + 4))
    table = Table.grid(padding=(0, 1))
    table.add_column(width=1, no_wrap=True)
    table.add_column(no_wrap=True, width=step_width)
    table.add_column(no_wrap=True, width=7)
    table.add_column(no_wrap=True, justify="right", width=7)
    table.add_column(no_wrap=True, width=room)
    cached = [row.step for row in rows if row.status == "cached"]
    if cached:  # collapsed: a cached step has nothing to watch
        table.add_row(Text("✓", "dim green"), Text(f"{len(cached)} cached", "dim"), "", "",
                      _cut(", ".join(cached), room, "dim"))
    for row in rows:
        if row.status == "cached":
            continue
        elapsed = row.elapsed(now)
        icon: RenderableType = spinner if row.status == "running" else Text(*_ICONS[row.status])
        style = "bold red" if row.status == "failed" else ("dim" if row.status == "waiting" else "")
        table.add_row(icon, Text(row.step, style or "bold"), Text(row.status, style),
                      Text(f"{elapsed:.1f}s" if elapsed is not None else "", "dim"),
                      _cut(shown(row.instruction) if row.status in ("running", "failed") else "", room))
    return table


def shown(instruction: str) -> str:
    """The instruction as a row shows it: one space between words, RUN's flags (mounts, network)
    left out, so that the command itself fits the width."""
    words = instruction.split()
    if words[:1] == ["RUN"]:
        command = words[1:]
        while command and command[0].startswith("--"):
            command = command[1:]
        words = ["RUN", *command]
    return " ".join(words)


def _cut(text: str, width: int, style: str = "") -> Text:
    cut = Text(text, style, no_wrap=True)
    cut.truncate(width, overflow="ellipsis")
    return cut
