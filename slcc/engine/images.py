"""Finding and removing the images slcc built: the local image store and the registry.

An image counts as slcc's only when its labels (org.slcc.flavor/step/hash, written by the
emitter) and its tag agree: ``<repository>/<flavor>:<step>-<first 32 hex of the hash>``. A
user's image built FROM an slcc image inherits the labels but not such a tag, so it is
never listed, and removal is by tag, so an image with other tags only loses slcc's.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slcc.engine.protocol import CommandJournal, CommandRecord, RemoveResult, SlccImage
from slcc.engine.registry import MANIFEST_TYPES, RegistryClient
from slcc.errors import EngineError

LABEL = "org.slcc"
_HASH_TAG = re.compile(r"^(?P<step>.+)-(?P<short>[0-9a-f]{32})$")
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


def slcc_image(tag: str, labels: Mapping[str, str] | None, created: float, size: int,
               digest: str = "") -> SlccImage | None:
    """The SlccImage for ``tag`` when labels and tag agree, else None."""
    labels = labels or {}
    flavor, step, digest_label = (labels.get(f"{LABEL}.{k}", "") for k in ("flavor", "step", "hash"))
    repository, _, ref = tag.rpartition(":")
    match = _HASH_TAG.match(ref)
    if not (flavor and step and digest_label and match and "/" in repository):
        return None
    if repository.rsplit("/", 1)[1] != flavor or match["step"] != step or not digest_label.startswith(match["short"]):
        return None
    return SlccImage(tag, flavor, step, digest_label, created, size, digest)


def local_images(api_get: Any) -> list[SlccImage]:
    """From the Engine API's image list filtered by slcc's hash label."""
    query = urllib.parse.quote(json.dumps({"label": [f"{LABEL}.hash"]}))
    images = api_get(f"/images/json?filters={query}")
    found: dict[str, SlccImage] = {}
    for entry in images if isinstance(images, list) else []:
        for tag in entry.get("RepoTags") or []:
            image = slcc_image(tag, entry.get("Labels"), float(entry.get("Created") or 0), int(entry.get("Size") or 0))
            if image is not None:
                found[tag] = image
    return sorted(found.values(), key=lambda i: i.tag)


def remove_image(tag: str, journal: CommandJournal) -> RemoveResult:
    """`docker image rm TAG` (never -f: an image a container uses stays)."""
    argv = ("docker", "image", "rm", tag)
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"`{' '.join(argv)}` failed: {exc.__class__.__name__}", argv) from None
    journal.add(CommandRecord(argv, proc.returncode, round(time.monotonic() - start, 2)))
    if proc.returncode == 0:
        return "removed"
    if "No such image" in proc.stderr:
        return "gone"
    if "conflict" in proc.stderr or "is being used" in proc.stderr or "in use" in proc.stderr:
        return "in-use"
    detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    raise EngineError(f"`{' '.join(argv)}` failed: {detail}", argv, proc.returncode, proc.stderr[-2000:])


def registry_images(repository: str, flavors: Sequence[str], timeout: float = 10.0) -> list[SlccImage]:
    """slcc's hash tags under ``repository``/FLAVOR, with their digests, creation times and sizes."""
    host, _, path = repository.partition("/")
    client = RegistryClient(host, timeout)
    names = [f"{path}/{flavor.lower()}" for flavor in flavors]  # image names are lower case
    wanted = [(name, tag) for name in names for tag in client.tags(name)
              if _HASH_TAG.match(tag)]
    if not wanted:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
        found = pool.map(lambda item: _registry_image(client, *item), wanted)
    return sorted((i for i in found if i is not None), key=lambda i: i.tag)


def _registry_image(client: RegistryClient, name: str, tag: str) -> SlccImage | None:
    digest, manifest = client.manifest(name, tag)
    if manifest is None:
        return None  # deleted meanwhile
    if manifest.get("mediaType") in _INDEX_TYPES or "manifests" in manifest:
        entries = manifest.get("manifests") or []
        if not entries:
            return None
        _, manifest = client.manifest(name, entries[0]["digest"])
        if manifest is None:
            return None
    config_ref = manifest.get("config") or {}
    config = client.blob_json(name, str(config_ref.get("digest", "")))
    labels = (config.get("config") or {}).get("Labels") or {}
    size = int(config_ref.get("size") or 0) + sum(int(layer.get("size") or 0) for layer in manifest.get("layers") or [])
    return slcc_image(f"{client.host}/{name}:{tag}", labels, _epoch(str(config.get("created") or "")), size, digest)


def _epoch(created: str) -> float:
    """RFC 3339 as written in image configs ('2026-12-01T21:08:00.123456789Z') -> seconds."""
    from datetime import datetime  # noqa: PLC0415 - only the registry listing needs it

    text = re.sub(r"(\.\d{6})\d+", r"\1", created).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def delete_registry_image(image: SlccImage, timeout: float = 10.0) -> bool:
    host, _, rest = image.tag.partition("/")
    name = rest.rpartition(":")[0]
    return RegistryClient(host, timeout).delete_manifest(name, image.digest)


__all__ = ["MANIFEST_TYPES", "delete_registry_image", "local_images", "registry_images", "remove_image"]
