"""CORS for browser players, on the collector paths only.

Preflight requests (OPTIONS with Access-Control-Request-Method) are answered by
Starlette's CORSMiddleware. The headers of every other response are computed here as raw
header pairs, once per origin, so the bare ASGI `POST /v1/events` adds them without
building header objects; they are what Starlette's CORSMiddleware adds to a simple
response (Allow-Origin `*` or the allowed origin itself, Expose-Headers, `Vary: Origin`).
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COLLECTOR_PATHS = ("/v1/events", "/v1/cmcd", "/v1/schema/", "/openapi.json")
"""Paths browsers may call cross-origin. Admin endpoints (catalogue, privacy) are not."""

EXPOSE_HEADERS = ["Retry-After"]
Headers = list[tuple[bytes, bytes]]


class CollectorCors:
    """The CORS policy of the collector paths: allowed origins and the headers to add."""

    def __init__(self, allow_origins: list[str]) -> None:
        self.allow_all = "*" in allow_origins
        self.allow_origins = frozenset(allow_origins)
        self._exposed = (b"access-control-expose-headers", ", ".join(EXPOSE_HEADERS).encode())
        self._vary_only: Headers = [(b"vary", b"Origin")]
        self._by_origin: dict[str, Headers] = {}

    def preflight(self, app: ASGIApp) -> CORSMiddleware:
        """Starlette's middleware for the preflight requests, with the same policy."""
        return CORSMiddleware(
            app,
            allow_origins=sorted(self.allow_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Content-Encoding", "X-Write-Key"],
            expose_headers=EXPOSE_HEADERS,
            max_age=3600,
        )

    def headers_for(self, origin: str | None) -> Headers:
        """The CORS headers of a (non-preflight) response to a request from `origin`."""
        if origin is None:
            return self._vary_only
        headers = self._by_origin.get(origin)
        if headers is None:
            headers = [self._exposed, (b"vary", b"Origin")]
            if self.allow_all:
                headers.insert(0, (b"access-control-allow-origin", b"*"))
            elif origin in self.allow_origins:
                headers.insert(0, (b"access-control-allow-origin", origin.encode("latin-1")))
            if len(self._by_origin) < 1000:  # bounded: origins are chosen by clients
                self._by_origin[origin] = headers
        return headers


def origin_of(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"origin":
            return value.decode("latin-1")
    return None


class CollectorCORSMiddleware:
    """CORS on the collector paths: preflight by Starlette, other responses by CollectorCors."""

    def __init__(self, app: ASGIApp, cors: CollectorCors) -> None:
        self.app = app
        self.cors = cors
        self.preflight = cors.preflight(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(COLLECTOR_PATHS):
            await self.app(scope, receive, send)
            return
        origin = origin_of(scope)
        if (
            origin is not None
            and scope["method"] == "OPTIONS"
            and any(name == b"access-control-request-method" for name, _ in scope["headers"])
        ):
            await self.preflight(scope, receive, send)
            return
        cors_headers = self.cors.headers_for(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = add_cors(list(message.get("headers", [])), cors_headers)
            await send(message)

        await self.app(scope, receive, send_with_cors)


def add_cors(headers: Headers, cors_headers: Headers) -> Headers:
    """The response headers with the CORS ones added; an existing Vary gains `Origin`."""
    vary = [value for name, value in headers if name == b"vary"]
    if not vary:
        return headers + cors_headers
    merged = b", ".join([*vary, b"Origin"])
    kept = [(name, value) for name, value in headers if name != b"vary"]
    return kept + [(n, merged if n == b"vary" else v) for n, v in cors_headers]
