"""JSON responses and error bodies: a stable error code and a short detail, never a trace."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

RETRY_AFTER_S = "1"
_json = msgspec.json.Encoder()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_json.encode(body), status, headers, media_type="application/json")


def error_response(status: int, code: str, detail: str, retry: bool = False) -> Response:
    headers = {"Retry-After": RETRY_AFTER_S} if retry else None
    return json_response(status, {"error": code, "detail": detail}, headers)
