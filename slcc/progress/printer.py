"""Build progress as lines: one per instruction a step starts and per status it ends in, or JSON.

Every line names the step that owns the instruction (slcc.progress.attribution), not the
target buildx happened to label it with. The live terminal view is slcc.output.live_view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from slcc.progress.events import event_line
from slcc.progress.records import StepEvent


def building_line(steps: Sequence[str]) -> str:
    """The plain line announcing a bake: how many steps and which (flavor/step)."""
    return f"building {len(steps)} step(s): {', '.join(steps)}"


class QuietView:
    """No progress; only the line saying what the bake builds."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = echo

    def begin(self, steps: Sequence[str]) -> None:
        self.echo(building_line(steps))

    def show(self, event: StepEvent) -> None:
        pass

    def close(self) -> None:
        pass


class LinesView:
    """Plain lines through ``echo``; with ``output`` also every line the instructions print."""

    def __init__(self, echo: Callable[[str], None], output: bool) -> None:
        self.echo = echo
        self.output = output

    def begin(self, steps: Sequence[str]) -> None:
        self.echo(building_line(steps))

    def show(self, event: StepEvent) -> None:
        if (line := step_line(event, self.output)) is not None:
            self.echo(line)

    def close(self) -> None:
        pass


class JsonView:
    """One JSON object per line through ``write``: the bake's steps ("building"), then one "step"
    event per change (status, instruction, timing, and ``output`` lines)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def begin(self, steps: Sequence[str]) -> None:
        self.write(event_line("building", {"steps": list(steps)}))

    def show(self, event: StepEvent) -> None:
        self.write(event_line("step", event.as_json()))

    def close(self) -> None:
        pass


def step_line(event: StepEvent, output: bool) -> str | None:
    """The plain line for ``event``; None for what plain lines leave out (waiting rows, output)."""
    row = event.row
    prefix = f"[{row.step}]"
    if event.output is not None:
        return f"{prefix}   {event.output}" if output else None
    elapsed = row.elapsed(event.at)
    took = f" in {elapsed:.1f} s" if elapsed is not None else ""
    if row.status == "running":
        return f"{prefix} {row.instruction}"
    if row.status == "failed":
        return f"{prefix} FAILED at {row.instruction}{took}"
    if row.status in ("done", "stopped"):
        return f"{prefix} {row.status}{took}"
    if row.status == "cached" and row.started is not None:  # fresh steps were listed before the bake
        return f"{prefix} cached{took}"
    return None
