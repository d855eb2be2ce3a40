"""Routes of the catalog endpoints (to be filled in)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
