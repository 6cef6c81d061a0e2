"""The line format of ``--progress json``: one JSON object per line, its "event" saying what it is.

Kept apart from the views so the CLI can write events without loading the progress parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

# docs/build-view.md lists each event's fields.
EventKind = Literal["building", "step", "message", "warning", "reason", "failure", "summary"]


def event_line(kind: EventKind, fields: Mapping[str, object]) -> str:
    """One line of the --progress json stream."""
    return json.dumps({"event": kind, **fields})
