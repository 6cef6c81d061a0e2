"""HTTP routes of `slcc serve` (Starlette). Blocking work (git, hashing, SQL) runs in the thread pool.

Hooks answer 401 for a missing or wrong signature (logged with delivery id, peer and size,
never the body), 413 for a body over the limit, 202 with the ids of queued builds, or 200 with
why nothing was queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from slcc.errors import InputError, SlccError
from slcc.serve import hooks
from slcc.serve.mirror import Mirror
from slcc.serve.page import PAGE
from slcc.serve.planner import Planner
from slcc.serve.queue import BuildQueue
from slcc.serve.records import FINISHED, STATUSES, Enqueued, NewBuild, Trigger
from slcc.serve.worker import Worker

log = logging.getLogger("slcc.serve")


@dataclass(frozen=True)
class Secrets:
    webhook_secret: str | None
    api_token: str | None

    def __repr__(self) -> str:  # never printed, even by accident
        return "Secrets(***)"


@dataclass(frozen=True)
class Service:
    queue: BuildQueue
    mirror: Mirror
    planner: Planner
    worker: Worker
    secrets: Secrets
    branches: tuple[str, ...]
    max_body: int


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without reading them all."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _peer(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "unknown peer"


def _answer(result: Enqueued) -> JSONResponse:
    body = result.as_json()
    if result.queued:
        return JSONResponse(body, status_code=202)
    if result.duplicate_delivery:
        body["why"] = "this delivery was already received; nothing new queued"
    else:
        body["why"] = "; ".join(f"{s.flavor}: {s.why}" for s in result.skipped) or "no flavors found"
    return JSONResponse(body, status_code=200)


def _plan_push(service: Service, push: hooks.Push, trigger: Trigger, delivery: str | None) -> Enqueued:
    """Fetch the pushed commit, hash its flavors and queue those whose content is new."""
    if delivery is not None and service.queue.delivery(delivery) is not None:
        return Enqueued((), (), (), duplicate_delivery=True)
    commit = service.mirror.commit(push.commit)
    keys = service.planner.keys(commit)
    builds = [NewBuild(k.flavor, k.goals, push.ref, commit, k.key, trigger, delivery) for k in keys]
    result = service.queue.enqueue(builds, delivery=delivery)
    if result.queued:
        service.worker.wake.set()
    return result


async def _hook(request: Request, trigger: Trigger, verify: Callable[[bytes], bool], event: str | None,
                delivery: str | None) -> Response:
    service: Service = request.app.state.service
    try:
        body = await read_body(request, service.max_body)
    except BodyTooLarge:
        log.warning("%s hook from %s: body over %d bytes refused", trigger, _peer(request), service.max_body)
        return _error(413, f"body larger than {service.max_body} bytes")
    if not verify(body):
        log.warning("%s hook from %s (delivery %s, %d bytes): missing or wrong signature", trigger, _peer(request),
                    delivery or "-", len(body))
        return _error(401, "missing or wrong signature")
    if event == "ping":
        return JSONResponse({"pong": True})
    if event not in ("push", "Push Hook"):
        return JSONResponse({"queued": [], "why": f"event {event!r} is not a push; nothing to build"})
    try:
        push = hooks.parse_push(body, service.branches)
    except hooks.PayloadError as exc:
        return _error(400, str(exc))
    if isinstance(push, hooks.Ignored):
        return JSONResponse({"queued": [], "why": push.why})
    key = f"{trigger}:{delivery}" if delivery else None
    try:
        result = await run_in_threadpool(_plan_push, service, push, trigger, key)
    except InputError as exc:
        log.warning("%s push %s: %s", trigger, push.commit[:12], exc)
        return _error(422, str(exc))
    except SlccError as exc:
        log.error("%s push %s: %s", trigger, push.commit[:12], exc)
        return _error(503, str(exc))
    log.info("%s push %s %s: queued %s", trigger, push.ref, push.commit[:12], list(result.queued) or "nothing")
    return _answer(result)


async def github_hook(request: Request) -> Response:
    secret = request.app.state.service.secrets.webhook_secret
    signature = request.headers.get("x-hub-signature-256")
    return await _hook(request, "github", lambda body: hooks.github_signature_ok(secret, body, signature),
                       request.headers.get("x-github-event"), request.headers.get("x-github-delivery"))


async def gitlab_hook(request: Request) -> Response:
    secret = request.app.state.service.secrets.webhook_secret
    token = request.headers.get("x-gitlab-token")
    return await _hook(request, "gitlab", lambda _body: hooks.token_ok(secret, token),
                       request.headers.get("x-gitlab-event"),
                       # Idempotency-Key is equal on retries of one event (GitLab 17.4+); the event UUID before that.
                       request.headers.get("idempotency-key") or request.headers.get("x-gitlab-event-uuid"))


def _authorized(request: Request) -> bool:
    token = request.app.state.service.secrets.api_token
    return hooks.token_ok(token, hooks.bearer(request.headers.get("authorization")))


def _build_on_demand(service: Service, data: dict[str, Any]) -> Enqueued:
    flavor, goals, ref = data.get("flavor"), data.get("goals", []), data.get("ref", "HEAD")
    if flavor is not None and not isinstance(flavor, str):
        raise InputError("'flavor' must be a string")
    if not isinstance(goals, list) or not all(isinstance(g, str) for g in goals):
        raise InputError("'goals' must be a list of step names")
    if not isinstance(ref, str) or not ref or ref.startswith("-"):
        raise InputError("'ref' must be a branch, tag or commit id")
    commit = service.mirror.commit(ref)
    keys = service.planner.keys(commit, [flavor] if flavor else [], goals)
    builds = [NewBuild(k.flavor, k.goals, service.mirror.full_ref(ref), commit, k.key, "api") for k in keys]
    result = service.queue.enqueue(builds, supersede=False)
    if result.queued:
        service.worker.wake.set()
    return result


async def create_build(request: Request) -> Response:
    service: Service = request.app.state.service
    if not _authorized(request):
        log.warning("POST /api/builds from %s: missing or wrong bearer token", _peer(request))
        return _error(401, "missing or wrong bearer token (SLCC_API_TOKEN)")
    try:
        data = (await read_body(request, service.max_body)) or b"{}"
    except BodyTooLarge:
        return _error(413, f"body larger than {service.max_body} bytes")
    try:
        parsed = json.loads(data)
        if not isinstance(parsed, dict):
            raise InputError("body must be a JSON object")
        result = await run_in_threadpool(_build_on_demand, service, parsed)
    except ValueError as exc:
        return _error(400, f"body is not JSON: {exc}")
    except InputError as exc:
        return _error(422, str(exc))
    except SlccError as exc:
        return _error(503, str(exc))
    return _answer(result)


def _build_id(request: Request) -> int | None:
    raw = request.path_params["build_id"]
    return int(raw) if raw.isdigit() else None


async def list_builds(request: Request) -> Response:
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        return _error(400, f"status must be one of {', '.join(STATUSES)}")
    limit = request.query_params.get("limit", "100")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        return _error(400, "limit must be 1..1000")
    builds = await run_in_threadpool(request.app.state.service.queue.list, int(limit), status)
    return JSONResponse({"builds": [b.summary() for b in builds]})


async def get_build(request: Request) -> Response:
    build_id = _build_id(request)
    build = await run_in_threadpool(request.app.state.service.queue.get, build_id) if build_id else None
    return JSONResponse(build.detail()) if build else _error(404, "no such build")


async def cancel_build(request: Request) -> Response:
    if not _authorized(request):
        return _error(401, "missing or wrong bearer token (SLCC_API_TOKEN)")
    service: Service = request.app.state.service
    build_id = _build_id(request)
    build = await run_in_threadpool(service.queue.cancel, build_id) if build_id else None
    if build is None:
        return _error(404, "no such build")
    return JSONResponse({"id": build.id, "status": build.status, "cancel_requested": build.cancel_requested},
                        status_code=202 if build.status == "running" else 200)


async def build_log(request: Request) -> Response:
    service: Service = request.app.state.service
    build_id = _build_id(request)
    build = await run_in_threadpool(service.queue.get, build_id) if build_id else None
    if build is None:
        return _error(404, "no such build")
    path = service.worker.log_path(build.id)
    if "text/event-stream" in request.headers.get("accept", ""):  # a finished build: the log, then `end`
        return StreamingResponse(_follow(service, build.id, path), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return PlainTextResponse(text)


async def _follow(service: Service, build_id: int, path: Path) -> AsyncIterator[str]:
    """Server-sent events: one ``data:`` per log line until the build finishes, then ``event: end``."""
    position, pending = 0, ""
    while True:
        build = await run_in_threadpool(service.queue.get, build_id)
        if path.is_file():
            with path.open("r", encoding="utf-8", errors="replace") as f:
                f.seek(position)
                chunk = f.read()
                position = f.tell()
            pending += chunk
            *lines, pending = pending.split("\n")
            for line in lines:
                yield f"data: {line}\n\n"
        if build is None or build.status in FINISHED:
            if pending:
                yield f"data: {pending}\n\n"
            yield f"event: end\ndata: {build.status if build else 'gone'}\n\n"
            return
        await asyncio.sleep(0.3)


async def list_artifacts(request: Request) -> Response:
    root: Path = request.app.state.service.worker.artifact_root
    files = sorted((p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: (int(p.relative_to(root).parts[0]) if p.relative_to(root).parts[0].isdigit() else 0,
                                  str(p)))
    return JSONResponse({"artifacts": [
        {"build": int(rel.parts[0]) if rel.parts[0].isdigit() else None, "name": rel.name,
         "size": p.stat().st_size, "url": f"/artifacts/{rel}"}
        for p in files for rel in [p.relative_to(root)]]})


def safe_artifact(root: Path, name: str) -> Path | None:
    """The file ``name`` under ``root``, or None when it is missing or resolves outside ``root``."""
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or path == base or not path.is_file():
        return None
    return path


async def artifact(request: Request) -> Response:
    path = safe_artifact(request.app.state.service.worker.artifact_root, request.path_params["file"])
    if path is None:
        return _error(404, "no such artifact")
    return FileResponse(path)


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


def make_app(service: Service, on_startup: Callable[[], None], on_shutdown: Callable[[], None]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(on_startup)
        yield
        await run_in_threadpool(on_shutdown)

    app = Starlette(routes=[
        Route("/", page),
        Route("/hooks/github", github_hook, methods=["POST"]),
        Route("/hooks/gitlab", gitlab_hook, methods=["POST"]),
        Route("/api/builds", list_builds, methods=["GET"]),
        Route("/api/builds", create_build, methods=["POST"]),
        Route("/api/builds/{build_id}", get_build),
        Route("/api/builds/{build_id}/log", build_log),
        Route("/api/builds/{build_id}/cancel", cancel_build, methods=["POST"]),
        Route("/api/artifacts", list_artifacts),
        Route("/artifacts/{file:path}", artifact),
    ], lifespan=lifespan)
    app.state.service = service
    return app
