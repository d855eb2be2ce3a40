"""`POST /v1/events` and the published event schema."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingestion_api.auth import require_app
from ingestion_api.body import BodyError, read_body, split_events
from ingestion_api.collector import Collector
from ingestion_api.ingest import ingest_events, oversized_event_index
from ingestion_api.observability import count_events, observe_append
from ingestion_api.quarantine import encode_records
from ingestion_api.ratelimit import limit_write_key
from ingestion_api.responses import error_response, json_response
from marquee.events import RejectReason, event_json_schema

log = logging.getLogger("ingestion_api")


async def post_events(request: Request) -> Response:
    collector: Collector = request.app.state.collector
    settings = collector.settings
    app_id = require_app(request, collector.apps_by_key)
    body = b""
    try:
        body = await read_body(request, settings.max_body_bytes, settings.max_decompressed_bytes)
        parsed = split_events(body, request.headers.get("content-type", ""))
        if len(parsed.events) > settings.max_events_per_request:
            raise BodyError(
                413, "too_many_events", f"over {settings.max_events_per_request} events"
            )
        too_large = oversized_event_index(parsed.events, settings.max_event_bytes)
        if too_large is not None:
            raise BodyError(
                413,
                RejectReason.EVENT_TOO_LARGE.value,
                f"event {too_large} is over {settings.max_event_bytes} bytes",
            )
    except BodyError as error:
        await collector.quarantine_body(app_id, error.code, error.detail, body)
        return error_response(error.status, error.code, error.detail)
    limited = await limit_write_key(request, len(parsed.events))
    if limited is not None:
        return limited

    received_at_ms = int(time.time() * 1000)
    result = ingest_events(
        parsed.events,
        parsed.sent_at,
        app_id,
        received_at_ms,
        collector.cdn_country(request),
        collector.enricher,
    )
    if result.quarantine:
        await collector.quarantine_log.append(encode_records(result.quarantine))
    started = time.perf_counter()
    await collector.events_log.append(bytes(result.log_bytes))
    observe_append(time.perf_counter() - started)
    count_events(result.accepted, result.rejected)
    return json_response(202, {"accepted": result.accepted, "rejected": result.rejected})


async def event_schema(request: Request) -> Response:
    return json_response(200, event_json_schema())


routes = [
    Route("/v1/events", post_events, methods=["POST"]),
    Route("/v1/schema/event.json", event_schema, methods=["GET"]),
]
