"""SIGTERM and SIGHUP end slcc the way Ctrl-C does; a report being written is finished first.

CI runners cancel jobs with SIGTERM and closing a terminal sends SIGHUP: both become a
SignalInterrupt (a KeyboardInterrupt carrying the signal), so every place that stops a bake
on Ctrl-C stops it on those too, and the exit code is 128 + the signal (130, 143, 129).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: `slcc --help` need not load the engine protocol
    from slcc.engine.protocol import CancelReason

ENDING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived (SIGINT stays a plain KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def interrupt_reason(exc: KeyboardInterrupt) -> tuple[CancelReason, int | None]:
    """Who cancelled, for a CancelToken: the user (Ctrl-C) or a signal."""
    if isinstance(exc, SignalInterrupt):
        return "signal", exc.signum
    return "user-interrupt", None


def exit_code(exc: KeyboardInterrupt) -> int:
    return 128 + (exc.signum if isinstance(exc, SignalInterrupt) else signal.SIGINT)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise SignalInterrupt(signum)


def install() -> None:
    """SIGTERM and SIGHUP raise SignalInterrupt in the main thread (Python already does SIGINT)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGHUP, _raise_interrupt)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block is done, then raise the first one.

    For what must be written whole once a bake has ended: its results and report.json. A
    second Ctrl-C must not lose them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in ENDING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            raise KeyboardInterrupt if pending[0] == signal.SIGINT else SignalInterrupt(pending[0])
