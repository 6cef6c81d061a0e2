"""External image references (``debian:bookworm-slim``, ``host:5000/a/b:1@sha256:...``): parse and pin.

A step's hash covers the *digest* of every external image it uses, and a build pins the
image to that digest with a bake named context, so the image is exactly the one hashed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    r"^(?:(?P<host>[a-zA-Z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)/)?"
    rf"(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    """One image reference exactly as a Dockerfile names it (after ARG expansion)."""

    text: str
    host: str | None  # registry host[:port]; None for Docker Hub names
    path: str  # repository path inside the registry
    tag: str | None
    digest: str | None  # given in the reference itself: no lookup needed

    @property
    def tag_or_latest(self) -> str:
        return self.tag or "latest"

    def pinned(self, digest: str) -> str:
        """A bake context value that overrides this reference with exactly ``digest``.

        The ``name:tag@digest`` form is what BuildKit itself resolves FROM to; it finds an
        image that exists only in the local (containerd) store, where ``name@digest`` of an
        imported image may not be found (checked on the engine, tests/integration/test_lock.py).
        """
        base = self.text.split("@", 1)[0]
        return f"docker-image://{base}@{digest}"


def _is_host(first: str) -> bool:
    return "." in first or ":" in first or first == "localhost" or first.startswith("[")


def parse_image_ref(text: str) -> ImageRef | None:
    """The parsed reference, or None when ``text`` is not a valid image reference."""
    match = _REFERENCE.match(text)
    if not match:
        return None
    host, path = match.group("host"), match.group("path")
    if host is not None and not _is_host(host):
        # "team/app": the first component is a path component, not a registry host.
        path, host = f"{host}/{path}", None
    return ImageRef(text, host, path, match.group("tag"), match.group("digest"))
