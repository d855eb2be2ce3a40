"""Write keys: public per-app identifiers sent in `X-Write-Key` or `?write_key=`.

`?write_key=` exists for navigator.sendBeacon, which cannot set headers.
"""

from __future__ import annotations

from starlette.requests import Request


def write_key_of(request: Request) -> str | None:
    return request.headers.get("x-write-key") or request.query_params.get("write_key")


def app_for_request(request: Request, apps_by_key: dict[str, str]) -> str | None:
    """The app id the request's write key belongs to, or None for a missing or unknown key."""
    key = write_key_of(request)
    if key is None:
        return None
    return apps_by_key.get(key)
