"""What the CLI writes on stderr besides bake's progress: warnings, messages, why steps were
rebuilt, a failure, the build's summary and the final error.

As text lines, or, with ``--progress json``, one JSON object per line (``"event"`` says which),
so that every line of that run's stderr parses except slcc's own last error line, which is
text in every mode; docs/build-view.md lists the events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from slcc.progress.events import event_line

if TYPE_CHECKING:  # the no-op build path never loads the progress records
    from slcc.progress.records import StepFailure


@dataclass(frozen=True, slots=True)
class Summary:
    """A build's outcome in a few numbers: the "summary" event (the table's last line in text)."""

    ok: bool
    statuses: Mapping[str, int]  # steps per status
    seconds: float
    scope: str
    baked: bool
    log: str | None
    error: str | None

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "steps": sum(self.statuses.values()), "statuses": dict(self.statuses),
                "seconds": self.seconds, "scope": self.scope, "baked": self.baked, "log": self.log,
                "error": self.error}


class Diagnostics(Protocol):
    def warning(self, message: str) -> None: ...

    def message(self, message: str) -> None: ...

    def reasons(self, step: str, why: Sequence[str]) -> None: ...

    def failure(self, failure: StepFailure) -> None: ...

    def summary(self, summary: Summary) -> None: ...

    def error(self, message: str, exit_code: int) -> None:
        """The last line: ``message`` is "<file or option>: <problem>", or "interrupted"."""


class TextDiagnostics:
    """Lines for people (the summary is the report table's last line, on stdout)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def warning(self, message: str) -> None:
        self.write(f"slcc: warning: {message}")

    def message(self, message: str) -> None:
        self.write(message)

    def reasons(self, step: str, why: Sequence[str]) -> None:
        self.write(f"  {step}: {'; '.join(why)}")

    def failure(self, failure: StepFailure) -> None:
        """The failing step, its instruction, its last output lines; the error line then names the log."""
        self.write(f"\nstep {failure.flavor}/{failure.step} failed at `{failure.instruction}`")
        for line in failure.output:
            self.write(f"  | {line}")
        self.write(f"  {failure.error}")

    def summary(self, summary: Summary) -> None:
        pass

    def error(self, message: str, exit_code: int) -> None:
        self.write(error_line(message))


class JsonDiagnostics:
    """One JSON event per line, in the stream --progress json writes its step events to."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def warning(self, message: str) -> None:
        self.write(event_line("warning", {"message": message}))

    def message(self, message: str) -> None:
        self.write(event_line("message", {"message": message}))

    def reasons(self, step: str, why: Sequence[str]) -> None:
        self.write(event_line("reason", {"step": step, "why": list(why)}))

    def failure(self, failure: StepFailure) -> None:
        self.write(event_line("failure", {"step": f"{failure.flavor}/{failure.step}", **failure.as_json()}))

    def summary(self, summary: Summary) -> None:
        self.write(event_line("summary", summary.as_json()))

    def error(self, message: str, exit_code: int) -> None:
        """Text in every mode: scripts and people look for ``slcc: error:`` as slcc's last line
        (as cargo's own errors stay text under --message-format json); a failed build's summary
        event before it carries the error too."""
        self.write(error_line(message))


def error_line(message: str) -> str:
    return "slcc: interrupted" if message == "interrupted" else f"slcc: error: {message}"
