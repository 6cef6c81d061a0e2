"""What each `--cache` backend costs on python3: time and bytes of a build that misses the cache.

Before every timed build, a new ``ENV SLCC_BENCH_CACHE_NONCE=<nonce>`` line goes after ``FROM`` in
the three root steps' children (build_run, wheels, flavor_base_deps): the root steps (apt installs)
stay cached and tagged, the five steps from the children down to release rebuild and export their
cache with the backend under test. All backends build in one repository that names the local
registry (``registry`` needs one), so the backend is the only difference. Bytes written: the growth
of ``.slcc/cache/python3`` (local), the blobs the cache manifests reference that the registry did
not hold before (registry), the ``moby.buildkit.cache.v0`` metadata in the new images' configs
(inline, read with ``ctr`` from the containerd image store; no blobs); none writes nothing. Each
backend is checked to have produced its cache (index.json, registry manifest, config metadata).

The default choice is measured too, in the bench's usual situation (a repository without a
registry, this machine's daemon), and the backend it picked is read from the run's bake file.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bench_tools as bt

REGISTRY = "127.0.0.1:5000"
REPOSITORY = f"{REGISTRY}/slcc-bench-cache"
BACKENDS = ("none", "local", "inline", "registry")
DEFAULT = "default"  # no --cache, no registry in the repository: what slcc picks by itself
CHILD_STEPS = ("build_run", "wheels", "flavor_base_deps")  # built FROM the root steps
STALE_STEPS = ("build_run", "wheels", "flavor_base_deps", "flavor_customization", "release")
_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))


@dataclass
class BackendFigures:
    """Per backend: build seconds and bytes written per repetition."""

    seconds: list[float] = field(default_factory=list)
    bytes_written: list[int] = field(default_factory=list)
    chosen: str = ""  # the backend the run's bake file used (tells what "default" picked)
    error: str = ""  # why this backend has no (more) figures


def _tool(backend: str) -> bt.Tool:
    """slcc building python3 with ``backend``; "default" in the usual no-registry repository."""
    if backend == DEFAULT:
        return bt.slcc_tool()
    tool = bt.slcc_tool(cache=backend)
    return bt.Tool(tool.name, tool.argv, {**tool.env, "SLCC_REPOSITORY": REPOSITORY})


def set_child_nonce(ws: Path, marker: str | None) -> None:
    """A new ENV line after FROM in the root steps' children (None: restore the checkout's files)."""
    for step in CHILD_STEPS:
        text = (bt.REPO / "flavors" / bt.FLAVOR / step / "Dockerfile").read_text(encoding="utf-8")
        if marker is not None:
            lines = text.splitlines(keepends=True)
            at = next(i for i, ln in enumerate(lines) if ln.startswith("FROM ")) + 1
            lines.insert(at, f"ENV SLCC_BENCH_CACHE_NONCE={marker}\n")
            text = "".join(lines)
        (ws / "flavors" / bt.FLAVOR / step / "Dockerfile").write_text(text, encoding="utf-8")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _manifest(repository: str, tag: str) -> dict[str, object] | None:
    name = repository.removeprefix(REGISTRY + "/")
    request = urllib.request.Request(f"http://{REGISTRY}/v2/{name}/manifests/{tag}", headers={"Accept": _ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            data: dict[str, object] = json.loads(answer.read())
            return data
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def registry_blobs(repository: str, steps: Sequence[str]) -> dict[str, int]:
    """Digest -> size of every blob the steps' cache manifests reference (a cache export is an
    index whose entries are the layers plus the cache config, or an image manifest)."""
    blobs: dict[str, int] = {}
    for step in steps:
        data = _manifest(f"{repository}/{bt.FLAVOR}", f"cache-{step}")
        if data is None:
            continue
        entries = [*_descriptors(data.get("manifests")), *_descriptors(data.get("layers"))]
        if isinstance(config := data.get("config"), dict):
            entries.append(config)
        for entry in entries:
            blobs[str(entry["digest"])] = int(str(entry["size"]))
    return blobs


def _descriptors(value: object) -> list[dict[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _content(digest: str) -> dict[str, object]:
    """A blob of the daemon's containerd image store (namespace moby), as JSON."""
    data: dict[str, object] = json.loads(bt.run(["ctr", "-n", "moby", "content", "get", digest], bt.BENCH_DIR).stdout)
    return data


def inline_cache_bytes(ref: str) -> int:
    """Size of the inline cache metadata (``moby.buildkit.cache.v0``) in an image's config; 0 if none."""
    manifest = _content(bt.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], bt.BENCH_DIR).stdout.strip())
    if isinstance(manifests := manifest.get("manifests"), list):  # an index: the first image manifest
        manifest = _content(str(_descriptors(manifests)[0]["digest"]))
    config = manifest.get("config")
    if not isinstance(config, dict):
        return 0
    return len(str(_content(str(config["digest"])).get("moby.buildkit.cache.v0", "")))


def chosen_backend(ws: Path) -> str:
    """SLCC_CACHE's default in the newest run's bake file: the backend that build used."""
    runs = sorted((ws / ".slcc" / "runs").glob("*/bake.hcl"), key=lambda p: p.stat().st_mtime)
    if not runs:
        return "unknown (no bake file)"
    found = re.search(r'variable "SLCC_CACHE" \{\s*default\s*=\s*"([a-z]+)"', runs[-1].read_text(encoding="utf-8"))
    return found.group(1) if found else "unknown"


def _verify(ws: Path, backend: str, inline: dict[str, int]) -> None:
    """The backend really produced its cache for the rebuilt steps."""
    if backend == "inline":
        missing = [ref for ref, size in inline.items() if size == 0]
        if len(inline) < len(STALE_STEPS):
            missing.append(f"{len(STALE_STEPS) - len(inline)} image(s) not built")
    elif backend == "local":
        missing = [s for s in STALE_STEPS if not (ws / ".slcc" / "cache" / bt.FLAVOR / s / "index.json").is_file()]
    elif backend == "registry":
        missing = [s for s in STALE_STEPS if _manifest(f"{REPOSITORY}/{bt.FLAVOR}", f"cache-{s}") is None]
    else:
        return
    if missing:
        msg = f"--cache {backend} wrote no cache for {', '.join(missing)}"
        raise bt.ToolError(msg)


def _one(ws: Path, backend: str) -> tuple[float, int, str]:
    """One timed build with a fresh nonce: seconds, bytes written, backend used."""
    local = ws / ".slcc" / "cache" / bt.FLAVOR
    before_local = _dir_bytes(local)
    before_blobs = registry_blobs(REPOSITORY, STALE_STEPS) if backend == "registry" else {}
    before_refs = bt.image_refs(f"{REPOSITORY}/{bt.FLAVOR}")
    set_child_nonce(ws, bt.nonce())
    seconds = _tool(backend).build(ws)
    chosen = chosen_backend(ws)
    inline = ({ref: inline_cache_bytes(ref) for ref in bt.image_refs(f"{REPOSITORY}/{bt.FLAVOR}") - before_refs}
              if chosen == "inline" and shutil.which("ctr") else {})  # ctr: the image store's raw config
    _verify(ws, chosen, inline)
    written = _dir_bytes(local) - before_local + sum(inline.values())
    if backend == "registry":
        written = sum(size for digest, size in registry_blobs(REPOSITORY, STALE_STEPS).items()
                      if digest not in before_blobs)
    return seconds, written, chosen


def bench_cache(ws: Path, reps: int, log: bt.Log, names: Sequence[str] = (DEFAULT, *BACKENDS),
                ) -> dict[str, BackendFigures]:
    """``reps`` rounds over every backend (the order rotates each round); restores the flavor.
    A backend whose build fails keeps its error and is not run again."""
    figures = {name: BackendFigures() for name in names}
    before = bt.image_refs(f"{REPOSITORY}/{bt.FLAVOR}") | bt.bench_image_refs()
    try:
        set_child_nonce(ws, None)
        for name in (DEFAULT, "none"):  # untimed: the root steps exist in both repositories
            _tool(name).build(ws)
        for rep in range(reps):
            for name in bt.rotated(names, rep):
                f = figures[name]
                if f.error:
                    continue
                try:
                    seconds, written, chosen = _one(ws, name)
                except bt.ToolError as exc:
                    f.error = str(exc).splitlines()[0][:160]
                    log(f"  cache {name} failed: {exc}")
                    continue
                f.seconds.append(seconds)
                f.bytes_written.append(written)
                f.chosen = chosen
                log(f"  cache {name} #{rep + 1}: {seconds:.2f} s, {written:,} bytes written ({chosen})")
    finally:
        set_child_nonce(ws, None)
        bt.remove_images((bt.image_refs(f"{REPOSITORY}/{bt.FLAVOR}") | bt.bench_image_refs()) - before)
        shutil.rmtree(ws / ".slcc" / "cache" / bt.FLAVOR, ignore_errors=True)  # GBs of scratch, measured
    return figures
