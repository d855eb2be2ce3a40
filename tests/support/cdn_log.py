"""A loopback "CDN" that logs each CMCD-carrying request, and the forwarder of its log.

`RecordingCdn` serves a directory as `MediaServer` does and records every request that
carries CMCD (a `CMCD` query argument or CMCD-* headers) as the log line of
docs/cmcd-players.md ("The CDN-log path"): the request time in epoch ms, the query
argument's value as it was in the URL, the CMCD headers, the User-Agent and the path.
`forward` posts those lines to `POST /v1/cmcd/cdn-log`, as a CDN log forwarder would.
"""

from __future__ import annotations

import json
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx

from tests.support.media import MediaServer, Throttle

CMCD_HEADERS = ("cmcd-object", "cmcd-request", "cmcd-session", "cmcd-status")


class RecordingCdn(MediaServer):
    """`MediaServer` (throttled when given a `Throttle`) that keeps a log line per
    CMCD-carrying request."""

    def __init__(self, root: Path, throttle: Throttle | None = None) -> None:
        super().__init__(root, throttle)
        self.lines: list[dict[str, Any]] = []
        lock = threading.Lock()
        lines = self.lines
        base = cast("partial[Any]", self.server.RequestHandlerClass)
        handler_class = base.func

        class Recording(handler_class):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:
                record(self)
                super().do_GET()

        def record(request: Any) -> None:
            at_ms = int(time.time() * 1000)
            path, _, query = request.path.partition("?")
            cmcd = next((part[5:] for part in query.split("&") if part.startswith("CMCD=")), None)
            headers = {
                name: value for name, value in request.headers.items()
                if name.lower() in CMCD_HEADERS
            }  # fmt: skip
            if cmcd is None and not headers:
                return
            line: dict[str, Any] = {"ts": at_ms, "url": path}
            if cmcd is not None:
                line["cmcd"] = cmcd
            if headers:
                line["headers"] = headers
            if request.headers.get("user-agent"):
                line["ua"] = request.headers["user-agent"]
            with lock:
                lines.append(line)

        # The same directory and options, the recording handler.
        self.server.RequestHandlerClass = partial(Recording, *base.args, **base.keywords)

    def __enter__(self) -> RecordingCdn:
        super().__enter__()
        return self


def forward(api_url: str, write_key: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Post the log lines (NDJSON) to the CDN-log endpoint; its answer."""
    response = httpx.post(
        f"{api_url}/v1/cmcd/cdn-log",
        content="\n".join(json.dumps(line) for line in lines) + "\n",
        headers={"X-Write-Key": write_key, "Content-Type": "application/x-ndjson"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer
