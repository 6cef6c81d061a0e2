"""One build in its own process: ``python -m slcc.serve.runner SPEC.json``.

The service starts this in a new session with the build's work tree checked out. It runs the
same pipeline as ``slcc build`` (and ``slcc export`` when configured) through their public
functions, prints progress to stderr (the service writes it to the build log) and writes the
result JSON atomically. SIGINT or SIGTERM stops the bake cleanly (exit 130); the process also
gets SIGTERM when the service dies, so a killed service leaves no build running.
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from slcc.engine.protocol import Cancelled, CancelToken

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RunSpec:
    build_id: int
    work_tree: str
    flavor: str
    goals: tuple[str, ...]
    overrides: dict[str, str | None]
    push: bool
    export: bool
    artifact_dir: str
    result: str
    parent_pid: int = 0

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunSpec:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["goals"] = tuple(data["goals"])
        return cls(**data)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: SIGTERM when the service process goes away, even on kill -9."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if parent_pid and __import__("os").getppid() != parent_pid:  # the parent died before prctl
        raise KeyboardInterrupt


CANCEL = CancelToken()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """The first SIGINT/SIGTERM cancels (bake is stopped cleanly); later ones only repeat the request."""
    first = not CANCEL.cancelled
    CANCEL.cancel("signal", signum)
    if first:
        raise KeyboardInterrupt


def run(spec: RunSpec) -> int:
    from slcc.commands.build import BuildFailed, BuildIO, BuildOptions, build  # noqa: PLC0415
    from slcc.commands.pins import attach  # noqa: PLC0415
    from slcc.engine.docker import DockerEngine  # noqa: PLC0415
    from slcc.errors import SlccError  # noqa: PLC0415
    from slcc.loading.project import open_project  # noqa: PLC0415
    from slcc.state.atomic import write_text_atomic  # noqa: PLC0415

    result: dict[str, Any] = {"report": None, "exports": [], "error": None}
    code = 0

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    def warn(line: str) -> None:
        say(f"slcc: warning: {line}")

    try:
        project = open_project(Path(spec.work_tree), [spec.flavor], spec.overrides, warn)
        attach(project, DockerEngine(), warn)  # the scope's image digests and git sources
        say(f"[serve] build {spec.build_id}: {spec.flavor} goals {', '.join(spec.goals) or '(default)'}")
        io = BuildIO(warn, say, DockerEngine(), CANCEL)
        try:
            report = build(project, BuildOptions(spec.goals, push=spec.push, progress="plain"), io)
            result["report"] = report.as_json()
        except BuildFailed as exc:
            result["report"], result["error"], code = exc.report.as_json(), str(exc), 1
        if code == 0 and spec.export:
            result["exports"] = _export(project, spec, io)
    except (KeyboardInterrupt, Cancelled):
        result["error"], code = "cancelled", 130
    except SlccError as exc:
        result["error"], code = str(exc), exc.exit_code
    say(f"[serve] build {spec.build_id} finished: " + ("ok" if code == 0 else str(result["error"])))
    write_text_atomic(Path(spec.result), json.dumps(result, indent=1) + "\n")
    return code


def _export(project: Any, spec: RunSpec, io: Any) -> list[dict[str, Any]]:
    from slcc.commands.export import ExportOptions, export  # noqa: PLC0415

    goals = spec.goals or project.flavors[0].goals
    options = [ExportOptions(goal, Path(spec.artifact_dir), "plain") for goal in goals]
    return [r.as_json() for o in options for r in export(project, o, io)]  # one archive per platform


def main() -> None:
    spec = RunSpec.read(Path(sys.argv[1]))
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        _die_with_parent(spec.parent_pid)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(run(spec))


if __name__ == "__main__":
    main()
