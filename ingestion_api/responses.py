"""JSON responses and error bodies: a stable error code and a short detail, never a trace.

The errors several paths answer alike (a refused write key, a log that cannot take writes,
an unhandled error) are built here once, for the Starlette exception handlers and for the
bare ASGI `POST /v1/events` alike.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.responses import Response

log = logging.getLogger("ingestion_api")

RETRY_AFTER_S = "1"
_json = msgspec.json.Encoder()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_json.encode(body), status, headers, media_type="application/json")


def error_response(status: int, code: str, detail: str, retry: bool = False) -> Response:
    headers = {"Retry-After": RETRY_AFTER_S} if retry else None
    return json_response(status, {"error": code, "detail": detail}, headers)


def unknown_write_key() -> Response:
    return error_response(401, "unknown_write_key", "missing or unknown write key")


def log_unavailable(exc: Exception) -> Response:
    """The event or quarantine log could not take a write: nothing was acknowledged."""
    log.error("event log unavailable", exc_info=exc)
    return error_response(503, "log_unavailable", "try again later", retry=True)


def internal_error() -> Response:
    """What a client sees of an unhandled error; the trace goes to the server log only."""
    return error_response(500, "internal_error", "an internal error occurred")
