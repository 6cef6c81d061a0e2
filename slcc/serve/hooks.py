"""Webhook verification and push payloads (pure: no sockets, no git).

GitHub signs the raw body: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``.
GitLab sends the shared secret itself in ``X-Gitlab-Token``. Both are compared in constant
time (``hmac.compare_digest``), so response timing does not reveal how much of a guess matched.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

ZERO_SHA = re.compile(r"^0+$")
SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def github_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_signature_ok(secret: str | None, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(github_signature(secret, body).encode(), header.strip().encode())


def token_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of a shared token (GitLab's X-Gitlab-Token, the API bearer token)."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True)
class Push:
    """A branch push: the ref and the commit it now points to."""

    ref: str
    commit: str

    @property
    def branch(self) -> str:
        return self.ref.removeprefix("refs/heads/")


@dataclass(frozen=True)
class Ignored:
    """A delivery that is valid but asks for no build, and why."""

    why: str


class PayloadError(ValueError):
    """The body is not a push payload this service understands (answered 400)."""


def parse_push(body: bytes, branches: Sequence[str]) -> Push | Ignored:
    """A GitHub or GitLab push payload (both carry ``ref`` and ``after``)."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("body is not a JSON object")
    ref, after = data.get("ref"), data.get("after")
    if not isinstance(ref, str) or not isinstance(after, str):
        raise PayloadError("push payload needs string fields 'ref' and 'after'")
    after = after.lower()
    if not ref.startswith("refs/heads/"):
        return Ignored(f"{ref} is not a branch")
    if ZERO_SHA.match(after) or data.get("deleted") is True:
        return Ignored(f"{ref} was deleted")
    if not SHA.match(after):
        raise PayloadError(f"'after' is not a commit id: {after[:80]!r}")
    push = Push(ref, after)
    if branches and not any(fnmatch.fnmatchcase(push.branch, pattern) for pattern in branches):
        return Ignored(f"branch {push.branch} is not built here (--branch {' '.join(branches)})")
    return push
