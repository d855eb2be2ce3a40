"""The ASGI application: routes from their modules, middleware, and the collector's lifetime.

Starlette keeps the per-request overhead low (a FastAPI body model halves throughput here);
validation is msgspec in `marquee.events`. Each worker process owns its own open segment,
so workers share nothing but the log directory.

Middleware, outermost first, all pure ASGI (per request, never per event):
CORS on the collector paths (browser players; Retry-After exposed), then metrics and the
catch-all that answers 500 `internal_error` without a trace, then the
per-client rate limit on /v1/. The per-write-key limit needs the event count, so the
events route applies it after parsing (`ratelimit.limit_write_key`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from ingestion_api import catalog_routes, cmcd_routes, events_routes, ops_routes
from ingestion_api.auth import UnknownWriteKey
from ingestion_api.collector import Collector
from ingestion_api.observability import ObserveMiddleware
from ingestion_api.openapi import build_openapi
from ingestion_api.ratelimit import ClientRateLimitMiddleware, RateLimiter
from ingestion_api.responses import error_response, json_response
from marquee.eventlog.base import LogUnavailable
from marquee.settings import Settings, get_settings

log = logging.getLogger("ingestion_api")

ROUTE_MODULES = (events_routes, cmcd_routes, catalog_routes, ops_routes)

COLLECTOR_PATHS = ("/v1/events", "/v1/cmcd", "/v1/schema/", "/openapi.json")
"""Paths browsers may call cross-origin. Admin endpoints (catalogue, privacy) are not."""


class CollectorCORSMiddleware:
    """Starlette's CORSMiddleware, applied only to the collector paths."""

    def __init__(self, app: ASGIApp, allow_origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Content-Encoding", "X-Write-Key"],
            expose_headers=["Retry-After"],
            max_age=3600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(COLLECTOR_PATHS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and other HTTP errors as JSON with a stable code, like every other error."""
    assert isinstance(exc, HTTPException)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    headers = dict(exc.headers) if exc.headers else None
    return json_response(exc.status_code, {"error": code, "detail": exc.detail}, headers)


async def write_key_refused(request: Request, exc: Exception) -> Response:
    return error_response(401, "unknown_write_key", "missing or unknown write key")


async def log_unavailable(request: Request, exc: Exception) -> Response:
    """The event or quarantine log could not take a write: nothing was acknowledged."""
    log.error("event log unavailable", exc_info=exc)
    return error_response(503, "log_unavailable", "try again later", retry=True)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        collector = Collector(settings)
        app.state.collector = collector
        collector.start()
        try:
            yield
        finally:
            await collector.close()

    routes: list[BaseRoute] = [
        *events_routes.routes,
        *cmcd_routes.routes,
        *catalog_routes.routes,
        *ops_routes.routes,
    ]
    limiter = RateLimiter.local(settings)
    origins = [origin.strip() for origin in settings.cors_allow_origins.split(",")]
    origins = [origin for origin in origins if origin]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(CollectorCORSMiddleware, allow_origins=origins),
            Middleware(ObserveMiddleware),
            Middleware(ClientRateLimitMiddleware, limiter=limiter),
        ],
        exception_handlers={
            HTTPException: http_error,
            UnknownWriteKey: write_key_refused,
            LogUnavailable: log_unavailable,
        },
    )
    app.state.rate_limiter = limiter
    extra_paths: dict[str, dict[str, Any]] = {}
    for module in ROUTE_MODULES:
        extra_paths.update(getattr(module, "openapi_paths", {}))
    app.state.openapi_json = msgspec.json.encode(build_openapi(routes, extra_paths))
    return app
