"""A fake engine for unit tests of the commands: no processes, no sockets, everything recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slcc.engine.protocol import (
    BakeOutcome,
    BakeRequest,
    BuilderInfo,
    CancelToken,
    CommandJournal,
    CommandRecord,
    RegistryUnauthorized,
    RegistryUnavailable,
    RemoveResult,
    SlccImage,
)
from slcc.errors import EngineError
from slcc.progress.bake_log import BakeProgress, ProgressParser
from tests.helpers import fake_digests

BakeScript = Callable[[BakeRequest, "FakeEngine", CancelToken | None], BakeOutcome]


def parse_log(log: str, targets: Sequence[str]) -> BakeProgress:
    parser = ProgressParser(targets)
    for i, line in enumerate(log.splitlines()):
        parser.feed(line, float(i))
    return parser.result()


@dataclass
class FakeEngine:
    """Tags in sets, a registry that can be down, bakes played by a script.

    By default a bake "builds" every target: the tags named in ``tags_by_target`` appear locally.
    """

    local: set[str] = field(default_factory=set)
    registry: set[str] = field(default_factory=set)
    registry_down: bool = False
    registry_refuses: bool = False  # 401: no login or a wrong one
    local_down: bool = False  # the daemon stops answering (after a bake, say)
    bake_script: BakeScript | None = None
    bake_lines: tuple[str, ...] = ()  # progress lines every bake prints (to on_line)
    tags_by_target: dict[str, str] = field(default_factory=dict)
    pushed: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    bakes: list[BakeRequest] = field(default_factory=list)
    shell: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    journal: CommandJournal = field(default_factory=CommandJournal)
    builder_info: BuilderInfo = field(
        default_factory=lambda: BuilderInfo("default", "docker", ("default",), ("linux/amd64",)))
    labels: dict[str, str | None] = field(default_factory=dict)  # hash label per tag; default None (unlabelled)
    images: list[SlccImage] = field(default_factory=list)  # what slcc_images lists
    in_use: set[str] = field(default_factory=set)  # tags a container uses
    removed: list[str] = field(default_factory=list)

    def local_tags(self, repositories: Iterable[str]) -> set[str]:
        if self.local_down:
            raise EngineError("cannot reach the Docker daemon (fake)")
        repos = set(repositories)
        return {t for t in self.local if t.rpartition(":")[0] in repos}

    def local_images(self, tags: Sequence[str]) -> dict[str, str | None]:
        if self.local_down:
            raise EngineError("cannot reach the Docker daemon (fake)")
        return {t: self.labels.get(t) for t in tags if t in self.local}

    def registry_tags(self, tags: Sequence[str]) -> set[str]:
        if self.registry_down:
            raise RegistryUnavailable("registry 127.0.0.1:1 is unreachable (fake)")
        if self.registry_refuses:
            raise RegistryUnauthorized("registry 127.0.0.1:1 needs a login (fake)")
        return {t for t in tags if t in self.registry}

    def image_digests(self, names: Sequence[str], warn: Callable[[str], None], strict: bool = False) -> dict[str, str]:
        """Every image exists, with a digest derived from its name (stable across calls)."""
        return fake_digests(names)

    def git_commit(self, source: str, kind: str, name: str) -> str:
        raise EngineError("the fake engine has no git sources")

    def git_checkout(self, source: str, commit: str, cache: Path) -> tuple[Path, str]:
        raise EngineError("the fake engine has no git sources")

    def push(self, tag: str) -> None:
        self._run(("docker", "push", "--quiet", tag))
        self.pushed.append(tag)
        self.registry.add(tag)

    def pull(self, tag: str) -> None:
        self._run(("docker", "pull", "--quiet", tag))
        self.pulled.append(tag)
        self.local.add(tag)

    def builder(self, name: str | None) -> BuilderInfo:
        if name not in (None, self.builder_info.name):
            raise EngineError(f"no builder {name!r} found (fake)")
        return self.builder_info

    def bake(self, request: BakeRequest, on_line: Callable[[str], None] | None = None,
             cancel: CancelToken | None = None) -> BakeOutcome:
        self.bakes.append(request)
        request.log.write_text("#1 [internal] load build definition\n", encoding="utf-8")
        for line in self.bake_lines:
            if on_line:
                on_line(line)
        if self.bake_script is not None:
            outcome = self.bake_script(request, self, cancel)
        else:
            built = [self.tags_by_target[t] for t in request.targets if t in self.tags_by_target]
            self.local.update(built)
            if request.push:
                self.registry.update(built)
            outcome = BakeOutcome(0, 0.1)
        self._run(("docker", "buildx", "bake", "-f", str(request.file), *request.targets), outcome.returncode)
        return outcome

    def revision(self, repo_root: Path) -> str | None:
        return "0123abc"

    def run_shell(self, command: str, env: Mapping[str, str]) -> int:
        self.shell.append((command, dict(env)))
        return 0

    def slcc_images(self) -> list[SlccImage]:
        return [i for i in self.images if i.tag in self.local]

    def remove_image(self, tag: str) -> RemoveResult:
        if tag in self.in_use:
            return "in-use"
        if tag not in self.local:
            return "gone"
        self.local.discard(tag)
        self.removed.append(tag)
        return "removed"

    def registry_images(self, repository: str, flavors: Sequence[str]) -> list[SlccImage]:
        return [i for i in self.images if i.tag in self.registry]

    def delete_registry_image(self, image: SlccImage) -> bool:
        gone = {i.tag for i in self.images if i.digest == image.digest and i.tag in self.registry}
        self.registry -= gone
        return bool(gone)

    def _run(self, argv: tuple[str, ...], code: int = 0) -> None:
        self.journal.add(CommandRecord(argv, code, 0.0))
