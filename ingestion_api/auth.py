"""Write keys: public per-app identifiers sent in `X-Write-Key` or `?write_key=`.

`?write_key=` exists for navigator.sendBeacon, which cannot set headers. The header wins;
of several `write_key` arguments the last counts (as Starlette's query parameters do).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request


def write_key_from(header: str | None, query_string: bytes) -> str | None:
    """The write key of a request, from its header value and its raw query string."""
    if header:
        return header
    if not query_string:
        return None
    key = None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name == "write_key":
            key = value
    return key


def write_key_of(request: Request) -> str | None:
    return write_key_from(request.headers.get("x-write-key"), request.scope["query_string"])


class UnknownWriteKey(Exception):
    """A missing or unknown write key; the app answers 401 `unknown_write_key`."""


def require_app(request: Request, apps_by_key: dict[str, str]) -> str:
    """The app id the request's write key belongs to; raises UnknownWriteKey otherwise."""
    key = write_key_of(request)
    app_id = apps_by_key.get(key) if key is not None else None
    if app_id is None:
        raise UnknownWriteKey
    return app_id
