"""Which buildx builder a build runs on, and whether its images land where slcc can see them.

The default builder (the ``docker`` driver on the local daemon) writes images into the image
store slcc reads over the daemon's socket. Any other builder (``docker-container``,
``kubernetes``, ``remote``, or the ``docker`` driver of another daemon reached through a docker
context) keeps its results to itself: for those, the registry is the only shared state.
Freshness is asked of the registry alone, every built image is pushed, and fresh
dependencies reach the builder as registry references.
"""

from __future__ import annotations

from slcc.engine.protocol import BuilderInfo, Engine
from slcc.errors import EngineError, InputError
from slcc.loading.config import Settings

LOCAL_ENDPOINT = "default"  # the docker context of the local daemon (DOCKER_HOST or its socket)


def is_local(builder: BuilderInfo) -> bool:
    """Whether the builder's images land in the local daemon's image store."""
    return builder.driver == "docker" and builder.endpoints == (LOCAL_ENDPOINT,)


def remote_builder(settings: Settings, engine: Engine) -> BuilderInfo | None:
    """The configured builder when it is not the local daemon's, else None.

    Without a configured builder (--builder, SLCC_BUILDER, [build] builder) slcc uses the
    default one and starts no process to ask. Raises InputError for a builder that does
    not exist, or one that needs a registry when the repository names none.
    """
    if not settings.builder:
        return None
    try:
        builder = engine.builder(settings.builder)
    except EngineError as exc:
        if "no builder" in str(exc).lower():
            raise InputError(f"no buildx builder {settings.builder!r} (see `docker buildx ls`)", "--builder") from None
        raise
    if is_local(builder):
        return None
    if settings.registry_host is None:
        where = f" on {', '.join(builder.endpoints)}" if builder.endpoints else ""
        raise InputError(
            f"builder {builder.name!r} ({builder.driver} driver{where}) keeps its images out of this machine's "
            f"image store, so it needs a registry to push to and check freshness in; the repository "
            f"{settings.repository!r} names none (e.g. --repository 127.0.0.1:5000/slcc)", "--builder")
    return builder


def bake_target(settings: Settings, remote: BuilderInfo | None) -> tuple[str | None, str | None]:
    """(--builder, --context) for bake: a docker-driver builder of another daemon is its context."""
    if remote is not None and remote.driver == "docker" and len(remote.endpoints) == 1:
        return None, remote.endpoints[0]
    return settings.builder, None
