"""Registry credentials as the docker client finds them, and the 401 challenge dance.

Credentials come from the docker client's config (``$DOCKER_CONFIG/config.json``, default
``~/.docker/config.json``): ``credHelpers[host]``, else ``credsStore``, else ``auths[host]``,
exactly in docker's order; helpers are the same ``docker-credential-<name> get`` programs.
They are read only after a registry answers 401, so a registry without auth costs nothing.
Secrets live in memory only: never in messages, reprs, logs or reports.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from slcc.engine.protocol import RegistryUnauthorized

if TYPE_CHECKING:
    import urllib.request
from slcc.errors import EngineError

TOKEN_USER = "<token>"  # a helper's username for an identity (refresh) token, as in docker
_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Credentials:
    username: str
    secret: str = field(repr=False)
    identity_token: bool = False  # secret is an OAuth refresh token, not a password
    source: str = ""  # where they came from, for messages ("config.json", "helper pass")

    def basic(self) -> str:
        raw = f"{self.username}:{self.secret}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: Mapping[str, str]


class CredentialsError(EngineError):
    """The docker client config or a credential helper could not be read."""


def docker_config_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    directory = env.get("DOCKER_CONFIG") or str(Path(env.get("HOME", str(Path.home()))) / ".docker")
    return Path(directory) / "config.json"


def _hostname(key: str) -> str:
    """docker's ConvertToHostname: 'https://host:5000/v1/' -> 'host:5000'."""
    for prefix in ("http://", "https://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return key.split("/", 1)[0]


def _read_config(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"{path}: cannot read the docker client config ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path}: the docker client config is not a JSON object")
    return data


def credentials_for(host: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The credentials docker would use for ``host``, or None (anonymous)."""
    path = docker_config_file(environ)
    config = _read_config(path)
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict) and isinstance(helpers.get(host), str):
        return helper_get(helpers[host], host, environ)
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return helper_get(store, host, environ)
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    entry = auths.get(host) or next((v for k, v in auths.items() if _hostname(k) == host), None)
    return _from_auth_entry(entry, path) if isinstance(entry, dict) else None


def _from_auth_entry(entry: Mapping[str, object], path: Path) -> Credentials | None:
    token = entry.get("identitytoken")
    encoded = entry.get("auth")
    username, password = entry.get("username"), entry.get("password")
    if isinstance(encoded, str) and encoded:
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(f"{path}: an `auth` entry is not base64 of user:password") from None
    if isinstance(token, str) and token:
        return Credentials(str(username or ""), token, identity_token=True, source=str(path))
    if isinstance(username, str) and isinstance(password, str) and username:
        return Credentials(username, password, source=str(path))
    return None


def helper_get(helper: str, host: str, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Ask ``docker-credential-<helper>`` for ``host``; None when it has nothing stored."""
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([program, "get"], input=host, capture_output=True, text=True, timeout=30,
                              check=False, env=None if environ is None else dict(environ))
    except FileNotFoundError:
        raise CredentialsError(f"credential helper `{program}` (from the docker config) is not installed") from None
    except subprocess.TimeoutExpired:
        raise CredentialsError(f"credential helper `{program}` did not answer within 30 s") from None
    if proc.returncode != 0:
        if "credentials not found" in proc.stdout + proc.stderr:
            return None
        raise CredentialsError(f"credential helper `{program}` failed for {host} (exit {proc.returncode})")
    try:
        data = json.loads(proc.stdout)
        username, secret = str(data["Username"]), str(data["Secret"])
    except (ValueError, KeyError, TypeError):
        raise CredentialsError(f"credential helper `{program}` gave an unreadable answer for {host}") from None
    if not secret:
        return None
    source = f"helper {program}"
    if username == TOKEN_USER:
        return Credentials("", secret, identity_token=True, source=source)
    return Credentials(username, secret, source=source)


def parse_challenge(header: str) -> Challenge | None:
    """'Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"' -> Challenge."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), {k: v.replace('\\"', '"') for k, v in params.items()})


class RegistryAuth:
    """Authorization headers for one registry host, shared by parallel requests.

    The first 401 decides the scheme; the header is then sent up front (basic), or per scope
    (bearer tokens), so one freshness query costs one extra round trip at most.
    """

    def __init__(self, host: str, lookup: Callable[[str], Credentials | None] = credentials_for,
                 timeout: float = 10.0) -> None:
        self.host = host
        self._lookup = lookup
        self._timeout = timeout
        self._lock = threading.Lock()
        self._loaded = False
        self._credentials: Credentials | None = None
        self._headers: dict[str, str] = {}  # scope ("" for basic) -> Authorization value

    @property
    def credentials(self) -> Credentials | None:
        with self._lock:
            if not self._loaded:
                self._credentials = self._lookup(self.host)
                self._loaded = True
            return self._credentials

    def cached(self, scope: str) -> str | None:
        with self._lock:
            return self._headers.get(scope) or self._headers.get("")

    def answer(self, challenge_header: str, scope: str) -> str | None:
        """The Authorization value to retry with after a 401, or None when there is none to give."""
        challenge = parse_challenge(challenge_header)
        credentials = self.credentials
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if credentials is None or credentials.identity_token:
                return None
            value, key = credentials.basic(), ""
        elif challenge.scheme == "bearer":
            value, key = "Bearer " + self._token(challenge, scope, credentials), scope
        else:
            return None
        with self._lock:
            self._headers[key] = value
        return value

    def _token(self, challenge: Challenge, scope: str, credentials: Credentials | None) -> str:
        import urllib.request  # noqa: PLC0415 - only bearer registries need it (its import costs ~15 ms)

        realm = challenge.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise CredentialsError(f"registry {self.host} sent a bearer challenge without a usable realm")
        query = {"service": challenge.params.get("service", ""), "scope": challenge.params.get("scope") or scope}
        query = {k: v for k, v in query.items() if v}
        if credentials is not None and credentials.identity_token:
            form = {**query, "grant_type": "refresh_token", "refresh_token": credentials.secret, "client_id": "slcc"}
            request = urllib.request.Request(realm, data=urllib.parse.urlencode(form).encode(), method="POST")
        else:
            request = urllib.request.Request(f"{realm}?{urllib.parse.urlencode(query)}")
            if credentials is not None:
                request.add_header("Authorization", credentials.basic())
        return self._fetch_token(request)

    def _fetch_token(self, request: urllib.request.Request) -> str:
        import urllib.error  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415

        where = urllib.parse.urlsplit(request.full_url).netloc
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response's socket
            if exc.code in (401, 403):
                raise unauthorized(self.host, self.credentials, exc.code) from None
            raise CredentialsError(f"token server {where} for {self.host} failed (HTTP {exc.code})") from None
        except (OSError, ValueError) as exc:
            raise CredentialsError(f"token server {where} for {self.host}: {exc.__class__.__name__}") from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise CredentialsError(f"token server {where} for {self.host} sent no token")
        return token


def unauthorized(host: str, credentials: Credentials | None, status: int, what: str = "") -> RegistryUnauthorized:
    """The one-line error for a refusal, with the hint that fixes it; never the secret."""
    on = f" to {what}" if what else ""
    if credentials is None:
        return RegistryUnauthorized(f"registry {host} needs a login (HTTP {status}{on}): run `docker login {host}`")
    user = f"user {credentials.username!r}" if credentials.username else "an identity token"
    return RegistryUnauthorized(
        f"registry {host}: not authorised (HTTP {status}{on}) as {user} from {credentials.source}; "
        f"check the password and the user's rights, or run `docker login {host}` again")
