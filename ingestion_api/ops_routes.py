"""Operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingestion_api.collector import Collector
from ingestion_api.observability import render_metrics
from ingestion_api.responses import error_response, json_response

log = logging.getLogger("ingestion_api")


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return json_response(200, {"status": "ok"})


def _probe_write(directory: Path) -> str | None:
    """Write, fsync and delete a byte in the log directory; the error, or None if it works.

    A real write catches what a permission check cannot: a full disk, a read-only mount,
    a file size limit.
    """
    path = directory / f".ready-probe-{os.getpid()}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(path)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def log_directory(collector: Collector) -> Path | None:
    """The local directory of the event log, or None for a broker-backed log."""
    writer = getattr(collector.events_log, "writer", None)
    directory = getattr(writer, "directory", None)
    return directory if isinstance(directory, Path) else None


async def readyz(request: Request) -> Response:
    """Readiness: ready only while the event log directory takes writes.

    A broker-backed log has no directory to probe; its appends answer 503 when the broker
    does not acknowledge, so the worker reports ready.
    """
    directory = log_directory(request.app.state.collector)
    if directory is not None:
        problem = await asyncio.to_thread(_probe_write, directory)
        if problem is not None:
            log.warning("not ready: the event log cannot take writes", extra={"error": problem})
            return error_response(503, "not_ready", "event log cannot take writes", retry=True)
    return json_response(200, {"status": "ready"})


async def metrics(request: Request) -> Response:
    directory = log_directory(request.app.state.collector)
    body, content_type = await asyncio.to_thread(render_metrics, directory)
    return Response(body, 200, media_type=content_type)


async def openapi_json(request: Request) -> Response:
    return Response(request.app.state.openapi_json, 200, media_type="application/json")


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi_json, methods=["GET"]),
]
