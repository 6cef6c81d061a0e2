"""The seam between slcc and the engine: what commands need, as a Protocol, and its records.

The real implementation (slcc.engine.docker.DockerEngine) is constructed at the CLI edge and
passed into the commands; unit tests pass a fake. Cancellation is explicit: a CancelToken
says who cancelled (the user, a watch restart, a signal) and the bake outcome repeats it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from slcc.errors import EngineError

if TYPE_CHECKING:  # loaded once a bake runs: a no-op build needs no progress parser
    from slcc.progress.bake_log import BakeProgress

ENGINE_HINT = "start it with `make engine` (or `bash slcc/resources/engine.sh`)"

CancelReason = Literal["user-interrupt", "watch-restart", "signal"]
# A user's interrupt or a signal ends slcc; a watch restart only ends one bake. The first
# kind wins over the second, so a Ctrl-C during a restart is never taken for the restart.
_FINAL: frozenset[CancelReason] = frozenset({"user-interrupt", "signal"})


class RegistryUnavailable(EngineError):
    """The registry did not answer; callers warn and carry on without it."""


class RegistryUnauthorized(EngineError):
    """The registry refused us: no login, a wrong login, or a user without the right.

    Not "unavailable": a build without push warns and goes on locally, one with push fails.
    """


class CancelToken:
    """A thread-safe, one-way cancel signal that records who cancelled first (finally)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reason: CancelReason | None = None
        self._signum: int | None = None

    def cancel(self, reason: CancelReason, signum: int | None = None) -> None:
        with self._lock:
            if self._reason is None or (reason in _FINAL and self._reason not in _FINAL):
                self._reason, self._signum = reason, signum
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> CancelReason | None:
        return self._reason

    @property
    def signum(self) -> int | None:
        return self._signum

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


class Cancelled(Exception):
    """A command stopped because its CancelToken was set; raised after its report was written."""

    def __init__(self, reason: CancelReason, signum: int | None = None) -> None:
        self.reason = reason
        self.signum = signum
        super().__init__(reason)

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as shells report it: 130 for Ctrl-C, 143 for SIGTERM."""
        return 128 + (self.signum or signal.SIGINT)


@dataclass(frozen=True)
class CommandRecord:
    """One process slcc ran: for build.log, so every engine command of a run can be replayed."""

    argv: tuple[str, ...]
    returncode: int | None  # None: it could not be started
    seconds: float

    def line(self) -> str:
        code = "not started" if self.returncode is None else f"exit {self.returncode}"
        return f"[slcc] ran `{' '.join(self.argv)}`: {code} ({self.seconds:.2f} s)"


class CommandJournal:
    """Thread-safe list of the commands run so far; a run reads what was added since a mark."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CommandRecord] = []

    def add(self, record: CommandRecord) -> None:
        with self._lock:
            self._records.append(record)

    def mark(self) -> int:
        with self._lock:
            return len(self._records)

    def since(self, mark: int) -> tuple[CommandRecord, ...]:
        with self._lock:
            return tuple(self._records[mark:])


@dataclass(frozen=True)
class BakeRequest:
    """One `docker buildx bake` run: which file and targets, where, and where its log goes."""

    file: Path
    targets: tuple[str, ...]
    cwd: Path
    log: Path
    builder: str | None = None
    push: bool = False
    no_cache: bool = False
    hold_fds: tuple[int, ...] = ()  # kept open while bake runs, even after slcc died (the build lock)
    # The docker context buildx runs in: the builder of another daemon's docker driver is only
    # reachable this way (buildx 0.13 refuses `--builder <context>` outside that context).
    context: str | None = None
    # Set in bake's environment: they override the file's variable defaults and any value
    # the caller's environment holds under those names.
    variables: Mapping[str, str] = field(default_factory=dict)


def _no_progress() -> BakeProgress:
    from slcc.progress.bake_log import BakeProgress  # noqa: PLC0415 - see the import above

    return BakeProgress()


@dataclass(frozen=True)
class BakeOutcome:
    returncode: int
    seconds: float
    progress: BakeProgress = field(default_factory=_no_progress)
    cancelled_by: CancelReason | None = None
    signum: int | None = None  # the signal, when cancelled_by is "signal"

    @property
    def durations(self) -> Mapping[str, float]:
        return self.progress.durations


@dataclass(frozen=True)
class BuilderInfo:
    """A buildx builder as `docker buildx inspect` describes it."""

    name: str
    driver: str  # docker, docker-container, kubernetes, remote, ...
    endpoints: tuple[str, ...]  # one per node: a docker context name, a host URL, ...
    platforms: tuple[str, ...]  # what its nodes build and run, natively or emulated

    def can_run(self, platform: str) -> bool:
        """Whether a node runs ``platform`` (``linux/amd64`` also when only ``linux/amd64/v2`` is listed)."""
        return any(p == platform or p.startswith(platform + "/") for p in self.platforms)


@dataclass(frozen=True)
class SlccImage:
    """One hash tag of an image slcc built: its labels name the flavor, step and hash, and the
    tag's hash part matches the label, so images slcc did not build are never taken for one."""

    tag: str  # repository/flavor:step-<hash prefix>
    flavor: str
    step: str
    hash: str  # the full org.slcc.hash label
    created: float  # seconds since the epoch (the image config's creation time)
    size: int  # bytes (local: as `docker image ls` counts; registry: config + layers, compressed)
    digest: str = ""  # registry: the manifest digest the tag points at


RemoveResult = Literal["removed", "in-use", "gone"]


class Engine(Protocol):
    """What slcc needs from Docker, buildx, registries, git and the shell."""

    journal: CommandJournal

    def local_tags(self, repositories: Iterable[str]) -> set[str]:
        """Tags present in the daemon's image store under ``repositories``."""

    def local_images(self, tags: Sequence[str]) -> dict[str, str | None]:
        """Which of ``tags`` the local store has, each with its ``org.slcc.hash`` label (None: none).

        Asks about these tags only, so the cost does not grow with the images in the store."""

    def registry_tags(self, tags: Sequence[str]) -> set[str]:
        """Which of ``tags`` the registry has; RegistryUnavailable when it cannot answer,
        RegistryUnauthorized when it refuses the docker client's credentials (or wants some)."""

    def image_digests(self, names: Sequence[str], warn: Callable[[str], None], strict: bool = False) -> dict[str, str]:
        """The digest of each external image as it is now: registry first for registry-hosted names,
        else the local image store (``strict``: a registry fault is an EngineError instead).
        InputError when an image exists in neither."""

    def git_commit(self, source: str, kind: str, name: str) -> str:
        """The commit tag or branch ``name`` points to in git ``source`` (URL or local path)."""

    def git_checkout(self, source: str, commit: str, cache: Path) -> tuple[Path, str]:
        """``commit``'s files in a directory under ``cache`` (made once), and its tree id."""

    def push(self, tag: str) -> None: ...

    def pull(self, tag: str) -> None: ...

    def bake(self, request: BakeRequest, on_line: Callable[[str], None] | None = None,
             cancel: CancelToken | None = None) -> BakeOutcome:
        """Run bake, tee its output to ``request.log``, stop it cleanly when ``cancel`` is set."""

    def revision(self, repo_root: Path) -> str | None:
        """The commit checked out at ``repo_root`` (an image label), or None."""

    def builder(self, name: str | None) -> BuilderInfo:
        """The named buildx builder (None: the current one); EngineError when it does not exist."""

    def run_shell(self, command: str, env: Mapping[str, str]) -> int:
        """The user's own shell command (watch --exec); its exit code."""

    def slcc_images(self) -> list[SlccImage]:
        """Every hash tag in the local image store that slcc built (found by its labels)."""

    def remove_image(self, tag: str) -> RemoveResult:
        """Untag ``tag`` (the image goes with its last tag); "in-use" when a container uses it."""

    def registry_images(self, repository: str, flavors: Sequence[str]) -> list[SlccImage]:
        """The hash tags slcc built under ``repository``/FLAVOR in its registry (by their labels)."""

    def delete_registry_image(self, image: SlccImage) -> bool:
        """Delete the manifest ``image.digest`` (every tag on it); False when it was already gone."""
