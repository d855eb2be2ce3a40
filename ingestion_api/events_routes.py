"""`POST /v1/events` as a bare ASGI app, and the published event schema.

Why bare: on a 100-event request, Starlette's request object, router and middleware stack
cost about a third of one worker's throughput (docs/decisions/0004, "Measurements behind
the code"). `app.IngestionApp` hands `POST /v1/events` to `EventsEndpoint` before its
router and middleware, so the endpoint does itself what they do for the other routes,
with the same shared parts: CORS headers (`cors.CollectorCors`), the per-client rate limit
(`ratelimit.client_limited`), request metrics (`observability.count_request`), the 401 and
503 answers and the bare 500 for an unhandled error (`responses`). The router still holds
the route, for the OpenAPI document and a 405 on other methods; a POST never reaches it
through the router.
"""

from __future__ import annotations

import logging
import time

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ingestion_api.auth import write_key_from
from ingestion_api.collector import Collector, country_code
from ingestion_api.cors import CollectorCors, add_cors
from ingestion_api.observability import count_events, count_request, error_code_of, observe_append
from ingestion_api.ratelimit import RateLimiter, client_limited, write_key_limited
from ingestion_api.responses import (
    error_response,
    internal_error,
    json_response,
    log_unavailable,
    unknown_write_key,
)
from marquee.eventlog.base import LogUnavailable
from marquee.events import event_json_schema
from marquee.intake.body import BodyError, asgi_body_chunks, parse_batch, read_body_from
from marquee.intake.ingest import ingest_decoded
from marquee.intake.quarantine import encode_records

log = logging.getLogger("ingestion_api")

EVENTS_PATH = "/v1/events"


class EventsEndpoint:
    """`POST /v1/events`: authenticate, read and decode the batch, enrich, append, answer 202."""

    def __init__(self, limiter: RateLimiter, cors: CollectorCors) -> None:
        self.limiter = limiter
        self.cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # `received_at` is when the API began reading the request (EVENTS.md, event time):
        # taken before the body, so a slow upload does not shift the corrected event times.
        received_at_ms = int(time.time() * 1000)
        headers: dict[bytes, bytes] = dict(reversed(scope["headers"]))  # the first of each wins
        try:
            response = await self._respond(scope, receive, headers, received_at_ms)
        except ClientDisconnect:
            return
        except LogUnavailable as exc:
            response = log_unavailable(exc)
        except Exception:
            log.exception("unhandled error", extra={"route": EVENTS_PATH, "method": "POST"})
            response = internal_error()
        origin = headers.get(b"origin")
        cors = self.cors.headers_for(None if origin is None else origin.decode("latin-1"))
        status = response.status_code
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": add_cors(response.raw_headers, cors),
            }
        )
        await send({"type": "http.response.body", "body": response.body})
        error_code = error_code_of(response.body) if status >= 400 else None
        count_request(EVENTS_PATH, "POST", status, error_code)

    async def _respond(
        self, scope: Scope, receive: Receive, headers: dict[bytes, bytes], received_at_ms: int
    ) -> Response:
        limited = await client_limited(self.limiter, scope)
        if limited is not None:
            return limited
        collector: Collector = scope["app"].state.collector
        settings = collector.settings
        key_header = headers.get(b"x-write-key")
        write_key = write_key_from(
            None if key_header is None else key_header.decode("latin-1"), scope["query_string"]
        )
        app_id = collector.apps_by_key.get(write_key) if write_key is not None else None
        if app_id is None:
            return unknown_write_key()
        country = None
        if settings.trusted_country_header:
            value = headers.get(settings.trusted_country_header.lower().encode("latin-1"))
            country = country_code(None if value is None else value.decode("latin-1"))
        body = b""
        try:
            length = headers.get(b"content-length")
            body = await read_body_from(
                asgi_body_chunks(receive),
                None if length is None else length.decode("latin-1"),
                headers.get(b"content-encoding", b"").decode("latin-1"),
                settings.max_body_bytes,
                settings.max_decompressed_bytes,
            )
            batch = parse_batch(
                body,
                headers.get(b"content-type", b"").decode("latin-1"),
                settings.max_events_per_request,
                settings.max_event_bytes,
            )
        except BodyError as error:
            await collector.quarantine_body(app_id, error.code, error.detail, body, country)
            return error_response(error.status, error.code, error.detail)
        limited = await write_key_limited(self.limiter, write_key or "", len(batch.events))
        if limited is not None:
            return limited
        result = ingest_decoded(
            batch.events,
            batch.raw_event,
            batch.sent_at,
            app_id,
            received_at_ms,
            country,
            collector.enricher,
        )
        if result.quarantine:
            await collector.quarantine_log.append(encode_records(result.quarantine))
        started = time.perf_counter()
        await collector.events_log.append(result.log_bytes)
        observe_append(time.perf_counter() - started)
        count_events(result.accepted, result.rejected)
        return json_response(202, {"accepted": result.accepted, "rejected": result.rejected})


async def event_schema(request: Request) -> Response:
    return json_response(200, event_json_schema())


routes = [Route("/v1/schema/event.json", event_schema, methods=["GET"])]
