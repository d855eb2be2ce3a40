"""The ASGI application: routes from their modules, and the collector's lifetime.

Starlette keeps the per-request overhead low (a FastAPI body model halves throughput here);
validation is msgspec in `marquee.events`. Each worker process owns its own open segment,
so workers share nothing but the log directory.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from ingestion_api import catalog_routes, cmcd_routes, events_routes, ops_routes
from ingestion_api.collector import Collector
from marquee.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        collector = Collector(settings)
        app.state.collector = collector
        collector.start()
        try:
            yield
        finally:
            await collector.close()

    routes: list[BaseRoute] = [
        *events_routes.routes,
        *cmcd_routes.routes,
        *catalog_routes.routes,
        *ops_routes.routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan)
