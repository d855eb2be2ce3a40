"""The ASGI application: routes from their modules, middleware, and the collector's lifetime.

Starlette keeps the per-request overhead low (a FastAPI body model halves throughput here);
validation is msgspec in `marquee.events`. Each worker process owns its own open segment,
so workers share nothing but the log directory.

Middleware, outermost first, all pure ASGI (per request, never per event):
CORS on the collector paths (browser players; Retry-After exposed), then metrics and the
catch-all that answers 500 `internal_error` without a trace, then the
per-client rate limit on /v1/. The per-write-key limit needs the event count, so the
routes apply it after parsing (`ratelimit.write_key_limited`).

`POST /v1/events`, the one route that takes the load, skips the router and the middleware:
`IngestionApp` hands it to `events_routes.EventsEndpoint`, which applies the same CORS,
rate limits, metrics and error answers itself (the reasons are in that module).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ingestion_api import (
    catalog_routes,
    cmcd_log_routes,
    cmcd_routes,
    events_routes,
    ops_routes,
    privacy_routes,
)
from ingestion_api.auth import UnknownWriteKey
from ingestion_api.collector import Collector
from ingestion_api.cors import CollectorCors, CollectorCORSMiddleware
from ingestion_api.events_routes import EVENTS_PATH, EventsEndpoint
from ingestion_api.observability import ObserveMiddleware
from ingestion_api.openapi import build_openapi
from ingestion_api.ratelimit import ClientRateLimitMiddleware, RateLimiter
from ingestion_api.responses import json_response, log_unavailable, unknown_write_key
from marquee.eventlog.base import LogUnavailable
from marquee.settings import Settings, get_settings

ROUTE_MODULES = (
    events_routes,
    cmcd_routes,
    cmcd_log_routes,
    catalog_routes,
    privacy_routes,
    ops_routes,
)


class IngestionApp(Starlette):
    """A Starlette app that hands `POST /v1/events` to its endpoint before anything else."""

    def __init__(self, events_endpoint: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events_endpoint = events_endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == EVENTS_PATH:
            scope["app"] = self
            await self.events_endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and other HTTP errors as JSON with a stable code, like every other error.

    A 405's Allow lists the methods of every route of that path: Starlette names only those
    of the first route it matched, and a path may be served by one route per method.
    """
    assert isinstance(exc, HTTPException)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_methods_of_path(request))
    return json_response(exc.status_code, {"error": code, "detail": exc.detail}, headers or None)


def _methods_of_path(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


async def write_key_refused(request: Request, exc: Exception) -> Response:
    return unknown_write_key()


async def log_unavailable_error(request: Request, exc: Exception) -> Response:
    return log_unavailable(exc)


def create_app(settings: Settings | None = None) -> IngestionApp:
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

    limiter = RateLimiter.local(settings)
    origins = [origin.strip() for origin in settings.cors_allow_origins.split(",")]
    cors = CollectorCors([origin for origin in origins if origin])
    events_endpoint = EventsEndpoint(limiter, cors)
    routes: list[BaseRoute] = [
        Route(EVENTS_PATH, events_endpoint, methods=["POST"]),
        *events_routes.routes,
        *cmcd_routes.routes,
        *cmcd_log_routes.routes,
        *catalog_routes.routes,
        *privacy_routes.routes,
        *ops_routes.routes,
    ]
    app = IngestionApp(
        events_endpoint,
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(CollectorCORSMiddleware, cors=cors),
            Middleware(ObserveMiddleware),
            Middleware(ClientRateLimitMiddleware, limiter=limiter),
        ],
        exception_handlers={
            HTTPException: http_error,
            UnknownWriteKey: write_key_refused,
            LogUnavailable: log_unavailable_error,
        },
    )
    app.state.rate_limiter = limiter
    extra_paths: dict[str, dict[str, Any]] = {}
    for module in ROUTE_MODULES:
        extra_paths.update(getattr(module, "openapi_paths", {}))
    app.state.openapi_json = msgspec.json.encode(build_openapi(routes, extra_paths))
    return app
