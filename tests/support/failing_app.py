"""The real API app plus routes that raise, for the unhandled-error test, which serves it
with `uvicorn --factory tests.support.failing_app:app_with_a_failing_route`."""

from __future__ import annotations

from typing import NoReturn

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingestion_api import events_routes
from ingestion_api.app import create_app


def app_with_a_failing_route() -> Starlette:
    """The real app plus one route that raises, and a `POST /v1/events` whose ingest step
    raises (it skips the middleware, so it has its own catch-all), for the error test."""
    app = create_app()

    async def fail(request: Request) -> Response:
        raise RuntimeError("secret internal detail at /srv/marquee/config")

    def fail_ingest(*args: object) -> NoReturn:
        raise RuntimeError("secret internal detail at /srv/marquee/config")

    app.router.routes.append(Route("/v1/fail", fail, methods=["POST"]))
    events_routes.ingest_decoded = fail_ingest  # type: ignore[assignment]
    return app
