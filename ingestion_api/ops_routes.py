"""Health and readiness for load balancers and orchestrators."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingestion_api.collector import Collector
from ingestion_api.responses import error_response, json_response


async def healthz(request: Request) -> Response:
    return json_response(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    collector: Collector = request.app.state.collector
    if not collector.settings.layout.log_dir.is_dir():
        return error_response(503, "not_ready", "event log directory missing", retry=True)
    return json_response(200, {"status": "ready"})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
