"""Wiring for `slcc serve`: options, secrets, the mirror, queue, worker and the uvicorn server."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from slcc.errors import InputError
from slcc.serve.app import Secrets, Service, make_app
from slcc.serve.mirror import Mirror
from slcc.serve.planner import Planner
from slcc.serve.queue import BuildQueue, open_database
from slcc.serve.worker import Worker, WorkerSettings

log = logging.getLogger("slcc.serve")
DEFAULT_MAX_BODY = 5 * 1024 * 1024


@dataclass(frozen=True)
class ServeOptions:
    source: str
    host: str = "127.0.0.1"
    port: int = 8765
    state_dir: Path = Path(".slcc-serve")
    database: str | None = None  # postgresql://... or a SQLite path; default <state_dir>/serve.db
    branches: tuple[str, ...] = ()
    push: bool = False
    export: bool = False
    max_body: int = DEFAULT_MAX_BODY
    instance: str | None = None
    keep: int = 200
    build_overrides: Mapping[str, str | None] | None = None  # repository, cache, builder, ca_bundle


def user_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "slcc" / "serve.toml"


def load_secrets(environ: Mapping[str, str]) -> Secrets:
    """SLCC_WEBHOOK_SECRET / SLCC_API_TOKEN, else webhook_secret / api_token in the user's serve.toml."""
    path = user_config_path(environ)
    data: dict[str, object] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"cannot read: {exc}", path) from None
        unknown = sorted(set(data) - {"webhook_secret", "api_token"})
        if unknown:
            raise InputError(f"unknown key {unknown[0]!r} (allowed: webhook_secret, api_token)", path)
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputError("holds secrets but is readable by others; chmod 600 it", path)
    values = {}
    for key, env in (("webhook_secret", "SLCC_WEBHOOK_SECRET"), ("api_token", "SLCC_API_TOKEN")):
        value = environ.get(env) or data.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{key} must be a string", path)
        values[key] = value or None
    return Secrets(values["webhook_secret"], values["api_token"])


def check_options(options: ServeOptions) -> None:
    """Bad input fails here, before anything is written."""
    source = options.source
    if "://" not in source and not source.startswith("git@") and not Path(source).is_dir():
        raise InputError(f"{source!r} is neither a directory nor a git URL", "--repo")
    if options.state_dir.exists() and not options.state_dir.is_dir():
        raise InputError(f"{options.state_dir} is not a directory", "--state-dir")


def instance_name(options: ServeOptions) -> str:
    """Stable across restarts of the same instance, so it finds the builds it was running."""
    if options.instance:
        return options.instance
    digest = hashlib.sha256(str(options.state_dir.resolve()).encode()).hexdigest()[:8]
    return f"{socket.gethostname()}-{digest}"


def lock_state_dir(state: Path) -> IO[str]:
    """One `slcc serve` per state directory; the kernel drops the lock with the process (kill -9 too)."""
    state.mkdir(parents=True, exist_ok=True)
    handle = (state / "serve.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InputError(f"{state} is used by another running slcc serve", "--state-dir") from None
    return handle


def build_service(options: ServeOptions, secrets: Secrets) -> Service:
    state = options.state_dir.resolve()
    source = options.source if "://" in options.source or options.source.startswith("git@") \
        else str(Path(options.source).resolve())
    mirror = Mirror(source, state)
    mirror.ensure()
    queue = BuildQueue(open_database(options.database, state))
    overrides = {**(options.build_overrides or {}), "state_dir": str(state / "slcc")}
    worker = Worker(queue, mirror, WorkerSettings(state, instance_name(options), overrides, options.push,
                                                  options.export, options.keep))
    planner = Planner(mirror, state, {k: v for k, v in overrides.items() if k != "state_dir"})
    return Service(queue, mirror, planner, worker, secrets, options.branches, options.max_body)


def serve(options: ServeOptions) -> None:
    """Run until SIGINT/SIGTERM; a running build is stopped and re-queued on the way out."""
    import uvicorn  # noqa: PLC0415 - only `slcc serve` pays for the server

    check_options(options)
    secrets = load_secrets(os.environ)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not secrets.webhook_secret:
        log.warning("no webhook secret (SLCC_WEBHOOK_SECRET or %s): every hook is refused with 401",
                    user_config_path(os.environ))
    if not secrets.api_token:
        log.warning("no API token (SLCC_API_TOKEN): POST /api/builds and cancel are refused with 401")
    lock = lock_state_dir(options.state_dir.resolve())  # held until the process ends
    service = build_service(options, secrets)

    def start() -> None:
        service.worker.recover()
        service.worker.start()
        log.info("serving %s on http://%s:%d (state %s)", service.mirror.source, options.host, options.port,
                 options.state_dir.resolve())

    app = make_app(service, start, service.worker.stop)
    server = uvicorn.Server(uvicorn.Config(app, host=options.host, port=options.port, log_level="info",
                                           timeout_graceful_shutdown=5))
    server.run()
    lock.close()
