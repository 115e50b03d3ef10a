"""The FastAPI application factory: routers, middleware, error handlers -- nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .config import Settings, get_settings
from .db import Database, database_for
from .errors import ERROR_SCHEMA, DomainError, error_body

log = logging.getLogger("lastmile.app")
MAX_BODY_BYTES = 12 * 1024 * 1024  # CSV imports are the largest bodies (10 MB)


def _field(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or None


def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if not errors:
        return JSONResponse(error_body("validation_error", "invalid request"), status_code=422)
    first = errors[0]
    field = _field(first.get("loc", ()))
    msg = str(first.get("msg", "invalid value"))
    if first.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif first.get("type") == "missing":
        msg = "field required"
    message = f"{field}: {msg}" if field else msg
    body = error_body("validation_error", message, field)
    if len(errors) > 1:
        body["error"]["errors"] = [
            {"field": _field(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors[:20]
        ]
    return JSONResponse(body, status_code=422)


def _domain_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    headers.update(getattr(exc, "headers", None) or {})  # e.g. Retry-After on 429
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _http_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
             403: "forbidden"}
    code = codes.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal", "internal server error"), status_code=500)


def _add_error_responses(app: FastAPI) -> None:
    """Document the error shape on every operation (schemathesis checks responses)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for item in schema.get("paths", {}).values():
            for op in item.values():
                responses = op.setdefault("responses", {})
                for status, desc in (("400", "Unreadable request"), ("401", "Not authenticated"), ("403", "Not allowed"), ("404", "Not found"),
                                     ("409", "Conflict"), ("413", "Body too large"), ("422", "Invalid input"),
                                     ("429", "Too many requests")):
                    responses[status] = {"description": desc, **ref}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class SecurityHeaders:
    """Pure ASGI middleware: refuse oversized bodies, add security headers."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"x-frame-options", b"DENY")]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                response = JSONResponse(
                    error_body("too_large", f"request body is larger than {MAX_BODY_BYTES} bytes"), status_code=413)
                await response(scope, receive, send)
                return
        no_store = scope.get("path", "").startswith(("/auth", "/track"))

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.HEADERS if k not in present]
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check()
    db = database or database_for(settings)
    if db.is_sqlite and settings.auto_migrate:
        db.migrate()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        # FastAPI runs sync endpoints in anyio's thread pool (40 threads by default).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="lastmile",
        version=__version__,
        description="Last-mile delivery platform API: orders, plans, routes, webhooks.",
        openapi_tags=None,
        docs_url=None, redoc_url=None,  # /docs from our own server, not a CDN: lastmile.web.docs
    )
    app.state.settings = settings
    app.state.db = db

    from .auth.endpoints import router as auth_router
    from .depots.endpoints import router as depots_router
    from .dispatch.endpoints import router as dispatch_router
    from .fleet.endpoints import router as fleet_router
    from .orders.endpoints import router as orders_router
    from .orders.endpoints import tracking_router
    from .webhooks.endpoints import router as webhooks_router
    from .events.endpoints import router as events_router
    from .pod.endpoints import router as pod_router  # /driver/..., /pod/..., /depots/{id}/returns
    app.include_router(pod_router)

    for r in (auth_router, depots_router, fleet_router, orders_router, tracking_router, dispatch_router, webhooks_router,
              events_router):
        app.include_router(r)
    from .dispatch.live_endpoints import router as live_router  # moves, locks, proposals, slots
    app.include_router(live_router)
    from .notifications.endpoints import router as notifications_router  # /notifications/..., /outbox
    app.include_router(notifications_router)
    from .tracking.endpoints import router as tracking_ingest_router  # /tracking/*, /devices

    app.include_router(tracking_ingest_router)
    from .dispatch.alert_endpoints import router as alerts_router  # /alerts, /search
    from .web.console import router as console_router  # /console, /console/day

    app.include_router(alerts_router)
    app.include_router(console_router)
    from .analytics.endpoints import router as analytics_router

    app.include_router(analytics_router)
    from .web.analytics import router as analytics_page_router  # /analytics

    app.include_router(analytics_page_router)
    from .portal.endpoints import router as portal_router  # /t/{token}/... API, /orders/{id}/messages
    from .web.portal import router as portal_page_router  # the tracking page /t/{token}

    app.include_router(portal_router)
    app.include_router(portal_page_router)

    from fastapi import Depends

    from .auth.access import public

    @app.get("/healthz", tags=["meta"], include_in_schema=False, dependencies=[Depends(public)])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from .web import register as register_web

    register_web(app)  # /docs and /static/vendor/ (front-end libraries from npm)

    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(DomainError, _domain_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unhandled_handler)

    app.add_middleware(SecurityHeaders)
    from .kit.time import ServerTimeHeader

    app.add_middleware(ServerTimeHeader)  # X-Server-Time: pages show "now" on the server's clock
    _add_error_responses(app)
    return app
