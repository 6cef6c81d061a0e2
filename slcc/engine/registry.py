"""The distribution (OCI) registry HTTP API: manifests, tags, deletes, with docker's credentials.

Loopback registries are plain HTTP, as the daemon treats 127.0.0.0/8; others HTTPS. A 401 is
answered once with what the docker client config holds (registry_auth); a second one means
"not authorised", never "unavailable".
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slcc.engine.protocol import RegistryUnavailable
from slcc.engine.registry_auth import RegistryAuth, unauthorized
from slcc.errors import EngineError

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


SLOW_TIMEOUT = 12.0  # seconds for the second try after a timeout


@dataclass(frozen=True)
class ImageRef:
    host: str  # "127.0.0.1:5000"
    name: str  # "slcc/python3"
    tag: str

    @classmethod
    def parse(cls, ref: str) -> ImageRef:
        """'host:5000/a/b:tag' -> ImageRef('host:5000', 'a/b', 'tag')."""
        host, _, rest = ref.partition("/")
        name, _, tag = rest.rpartition(":")
        return cls(host, name, tag)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def is_loopback(host: str) -> bool:
    name = urllib.parse.urlsplit("//" + host).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_AUTH: dict[str, RegistryAuth] = {}
_AUTH_LOCK = threading.Lock()


def auth_for(host: str) -> RegistryAuth:
    """One RegistryAuth per host and process, so tokens are fetched once."""
    with _AUTH_LOCK:
        return _AUTH.setdefault(host, RegistryAuth(host))


class RegistryClient:
    def __init__(self, host: str, timeout: float = 3.0, auth: RegistryAuth | None = None) -> None:
        self.host = host
        self.timeout = timeout
        self.auth = auth or auth_for(host)

    def request(self, method: str, path: str, scope: str, headers: Mapping[str, str] | None = None) -> Response:
        """One request, retried once with credentials after a 401; RegistryUnauthorized after that."""
        sent = dict(headers or {})
        if cached := self.auth.cached(scope):
            sent["Authorization"] = cached
        response = self._send(method, path, sent)
        if response.status == 401:
            # A fresh answer to the challenge: the first login, or a new token when ours expired
            # (watch and serve run for hours); the same answer again would only fail again.
            answer = self.auth.answer(response.headers.get("www-authenticate", ""), scope)
            if answer is not None and answer != sent.get("Authorization"):
                response = self._send(method, path, {**sent, "Authorization": answer})
        if response.status in (401, 403):
            raise unauthorized(self.host, self.auth.credentials, response.status, _what(method, path))
        if response.status >= 500:
            raise RegistryUnavailable(f"registry {self.host} failed (HTTP {response.status} for {method} {path})")
        return response

    def _send(self, method: str, path: str, headers: Mapping[str, str]) -> Response:
        try:
            return self._send_once(method, path, headers, self.timeout)
        except TimeoutError:
            # Slow is not down (a loaded CI machine): one more, longer try. A refused
            # connection (registry down) fails at once, so the no-op path stays fast then.
            try:
                return self._send_once(method, path, headers, max(self.timeout * 4, SLOW_TIMEOUT))
            except TimeoutError as exc:
                raise RegistryUnavailable(f"registry {self.host} is unreachable (no answer: {exc})") from None

    def _send_once(self, method: str, path: str, headers: Mapping[str, str], timeout: float) -> Response:
        conn_cls = http.client.HTTPConnection if is_loopback(self.host) else http.client.HTTPSConnection
        conn = conn_cls(self.host, timeout=timeout)
        try:
            conn.request(method, path, headers=dict(headers))
            raw = conn.getresponse()
            body = raw.read()
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, body)
        except TimeoutError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            detail = f"{exc.__class__.__name__}: {exc}"
            raise RegistryUnavailable(f"registry {self.host} is unreachable ({detail})") from None
        finally:
            conn.close()

    def manifest_digest(self, name: str, reference: str) -> str | None:
        """The digest a tag points at, or None when the tag does not exist."""
        response = self.request("HEAD", f"/v2/{name}/manifests/{reference}", f"repository:{name}:pull",
                                {"Accept": MANIFEST_TYPES})
        if response.status == 404:
            return None
        if response.status != 200:
            raise RegistryUnavailable(f"registry {self.host}: HTTP {response.status} for manifest {name}:{reference}")
        return response.headers.get("docker-content-digest") or ""

    def manifest(self, name: str, reference: str) -> tuple[str, dict[str, Any] | None]:
        """(digest, manifest JSON) of a tag or digest; ("", None) when it does not exist."""
        response = self.request("GET", f"/v2/{name}/manifests/{reference}", f"repository:{name}:pull",
                                {"Accept": MANIFEST_TYPES})
        if response.status == 404:
            return "", None
        data = _json_object(response, f"manifest {name}:{reference}", self.host)
        return response.headers.get("docker-content-digest", reference), data

    def blob_json(self, name: str, digest: str) -> dict[str, Any]:
        """A small JSON blob (an image config); follows the registry's redirect to its storage."""
        response = self.request("GET", f"/v2/{name}/blobs/{digest}", f"repository:{name}:pull")
        if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
            import urllib.request  # noqa: PLC0415 - not on the no-op path (its import costs ~15 ms)

            with urllib.request.urlopen(response.headers["location"], timeout=self.timeout) as redirected:
                response = Response(200, {}, redirected.read())
        return _json_object(response, f"blob {name}@{digest}", self.host)

    def tags(self, name: str) -> list[str]:
        """Every tag of repository ``name`` ([] when it does not exist), following pagination."""
        path: str | None = f"/v2/{name}/tags/list?n=1000"
        found: list[str] = []
        while path:
            response = self.request("GET", path, f"repository:{name}:pull")
            if response.status == 404:
                return found
            try:
                found.extend(json.loads(response.body).get("tags") or [])
            except (ValueError, AttributeError):
                raise RegistryUnavailable(f"registry {self.host}: unreadable tag list of {name}") from None
            path = _next_link(response.headers.get("link", ""))
        return found

    def delete_manifest(self, name: str, digest: str) -> bool:
        """Delete a manifest by digest (every tag on it goes); False when it was already gone."""
        response = self.request("DELETE", f"/v2/{name}/manifests/{digest}", f"repository:{name}:delete")
        if response.status == 405:
            raise EngineError(f"registry {self.host} does not allow deletes (distribution: storage.delete.enabled)")
        if response.status == 404:
            return False
        if response.status not in (200, 202):
            raise RegistryUnavailable(f"registry {self.host}: HTTP {response.status} deleting {name}@{digest}")
        return True


def _json_object(response: Response, what: str, host: str) -> dict[str, Any]:
    if response.status != 200:
        raise RegistryUnavailable(f"registry {host}: HTTP {response.status} for {what}")
    try:
        data = json.loads(response.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RegistryUnavailable(f"registry {host}: {what} is not a JSON object")
    return data


def _what(method: str, path: str) -> str:
    verb = "delete" if method == "DELETE" else "read"
    parts = path.split("/")
    name = "/".join(parts[2:-2]) if len(parts) > 4 else path
    return f"{verb} {name}"


def _next_link(header: str) -> str | None:
    """The path of a `Link: </v2/...>; rel="next"` header."""
    if 'rel="next"' not in header:
        return None
    start, end = header.find("<"), header.find(">")
    return header[start + 1 : end] if 0 <= start < end else None
