"""Digests of external images, on the no-op path: one cheap query per distinct image.

Registry-hosted names (``host[:port]/path:tag``) are asked of their registry with one HTTP
HEAD (the ``Docker-Content-Digest`` of the manifest or index: what a pull would get), with
docker's credentials when the registry asks for them. Names
without a registry host (Docker Hub style, or images built or imported locally) are asked of
the daemon's image store over the unix socket: ``GET /images/<name>/json``; with the
containerd image store its ``Id`` is the image's manifest or index digest, the digest a bake
context ``docker-image://name:tag@<digest>`` resolves (checked in tests/integration/test_lock.py).
A registry that does not answer, or does not hold the tag, falls back to the local store.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Sequence

from slcc.engine.docker import _api_requests, docker_socket
from slcc.engine.protocol import ENGINE_HINT, RegistryUnavailable
from slcc.errors import EngineError, InputError
from slcc.loading.imageref import DIGEST, ImageRef, parse_image_ref

Warn = Callable[[str], None]


def local_digests(names: Sequence[str], timeout: float = 10.0) -> dict[str, str | None]:
    """Each image's digest in the daemon's store (None: the store has no such image), asked all at once."""
    sock = docker_socket()
    if sock is None:
        raise EngineError("DOCKER_HOST is not a unix socket: slcc asks the daemon over its unix socket")
    paths = [f"/images/{urllib.parse.quote(name, safe='/:@')}/json" for name in names]
    try:
        answers = _api_requests(paths, timeout) if paths else []
    except (FileNotFoundError, ConnectionRefusedError):
        raise EngineError(f"cannot reach the Docker daemon at {sock}; {ENGINE_HINT}") from None
    except OSError as exc:
        raise EngineError(f"the Docker daemon did not answer about image {', '.join(names)} ({exc})") from None
    return {name: _store_digest(name, status, body) for name, (status, body) in zip(names, answers, strict=True)}


def _store_digest(name: str, status: int, body: bytes) -> str | None:
    if status == 404:
        return None
    if status != 200:
        raise EngineError(f"the Docker daemon failed to inspect image {name} (HTTP {status})")
    digest = json.loads(body).get("Id", "")
    if not DIGEST.match(digest):
        raise EngineError(f"the Docker daemon gave image {name} an id of unexpected form: {digest!r}")
    return str(digest)


def registry_digest(ref: ImageRef, timeout: float = 5.0) -> str | None:
    """The digest the registry serves for ``ref``'s tag; None when it has no such tag.

    Raises EngineError (RegistryUnavailable, or unauthorised) when the registry cannot say.
    """
    from slcc.engine.registry import RegistryClient  # noqa: PLC0415 - HTTP and TLS only for registry images

    assert ref.host is not None
    digest = RegistryClient(ref.host, timeout=timeout).manifest_digest(ref.path, ref.tag_or_latest)
    if digest is not None and not DIGEST.match(digest):
        raise RegistryUnavailable(f"registry {ref.host} gave {ref.text} a digest of unexpected form: {digest!r}")
    return digest


def _from_registry(ref: ImageRef, warn: Warn, strict: bool, faults: dict[str, str]) -> str | None:
    try:
        return registry_digest(ref)
    except EngineError as exc:
        if strict:
            raise
        faults[ref.text] = str(exc)
        warn(f"{exc}; using the local image store for {ref.text}")
        return None


def image_digests(names: Sequence[str], warn: Warn, strict: bool = False) -> dict[str, str]:
    """Digest of each image in ``names`` as it is now (registry first for registry-hosted names).

    ``strict`` (slcc lock): a registry that cannot answer is a fault, not a fallback to the local
    store, whose copy may not be what the registry serves to other machines.
    """
    refs = {}
    for name in names:
        ref = parse_image_ref(name)
        if ref is None:
            raise InputError(f"invalid image reference {name!r}")
        refs[name] = ref
    remote = [ref for ref in refs.values() if ref.host is not None]
    found: dict[str, str | None] = {}
    faults: dict[str, str] = {}  # registry errors of names that fell back to the local store
    if remote:
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - not for local images

        with ThreadPoolExecutor(max_workers=min(8, len(remote))) as pool:
            digests = pool.map(lambda r: _from_registry(r, warn, strict, faults), remote)
            found = dict(zip([r.text for r in remote], digests, strict=True))
    local = local_digests([name for name in refs if not found.get(name)])
    result: dict[str, str] = {}
    for name, ref in refs.items():
        digest = found.get(name) or local[name]
        if digest is None and name in faults:
            raise EngineError(f"image {name}: {faults[name]}, and the local image store does not have it")
        if digest is None:
            where = f"the local image store or registry {ref.host}" if ref.host else "the local image store"
            raise InputError(f"image {name} is not in {where}: build, pull or push it first")
        result[name] = digest
    return result
