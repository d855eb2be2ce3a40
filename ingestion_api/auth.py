"""Write keys: public per-app identifiers sent in `X-Write-Key` or `?write_key=`.

`?write_key=` exists for navigator.sendBeacon, which cannot set headers.
"""

from __future__ import annotations

from starlette.requests import Request


def write_key_of(request: Request) -> str | None:
    return request.headers.get("x-write-key") or request.query_params.get("write_key")


class UnknownWriteKey(Exception):
    """A missing or unknown write key; the app answers 401 `unknown_write_key`."""


def require_app(request: Request, apps_by_key: dict[str, str]) -> str:
    """The app id the request's write key belongs to; raises UnknownWriteKey otherwise."""
    key = write_key_of(request)
    app_id = apps_by_key.get(key) if key is not None else None
    if app_id is None:
        raise UnknownWriteKey
    return app_id
