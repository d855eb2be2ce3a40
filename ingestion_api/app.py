"""The ASGI application: routes, and the event log's lifetime.

Starlette keeps the per-request overhead low (a FastAPI body model halves throughput here);
validation is msgspec in `marquee.events`. Each worker process owns its own open segment,
so workers share nothing but the log directory.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingestion_api.auth import app_for_request
from ingestion_api.body import BodyError, decompress, read_limited, split_events
from ingestion_api.enrich import Enricher, Pseudonymiser, scrub_viewer_ids
from ingestion_api.ingest import ingest_events, oversized_event_index
from ingestion_api.quarantine import QuarantineRecord, encode_records
from marquee.eventlog.group_commit import GroupCommitLog, LogUnavailable
from marquee.events import RejectReason, event_json_schema
from marquee.settings import Settings, get_settings

log = logging.getLogger("ingestion_api")
_json = msgspec.json.Encoder()
RETRY_AFTER_S = "1"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_json.encode(body), status, headers, media_type="application/json")


def error_response(status: int, code: str, detail: str, retry: bool = False) -> Response:
    headers = {"Retry-After": RETRY_AFTER_S} if retry else None
    return json_response(status, {"error": code, "detail": detail}, headers)


class Collector:
    """What the routes share: settings, the two logs and the enricher."""

    def __init__(self, settings: Settings) -> None:
        layout = settings.layout.ensure()
        self.settings = settings
        self.apps_by_key = settings.app_for_write_key()
        self.enricher = Enricher(
            Pseudonymiser(settings.resolved_pseudonym_key()),
            future_horizon_s=settings.future_horizon_s,
            lateness_horizon_s=settings.lateness_horizon_s,
        )
        self.events_log = GroupCommitLog(
            layout.log_dir, settings.segment_max_bytes, settings.segment_max_age_s
        )
        self.quarantine_log = GroupCommitLog(
            layout.quarantine_dir, settings.segment_max_bytes, settings.segment_max_age_s
        )

    def cdn_country(self, request: Request) -> str | None:
        header = self.settings.trusted_country_header
        if not header:
            return None
        value = request.headers.get(header, "").strip().upper()
        return value if len(value) == 2 and value.isalpha() else None

    async def quarantine_body(self, app_id: str, code: str, detail: str, body: bytes) -> None:
        payload = scrub_viewer_ids(body, app_id, self.enricher.pseudonymise)
        record = QuarantineRecord(
            quarantined_at_ms=int(time.time() * 1000),
            app_id=app_id,
            reason=code,
            detail=detail,
            payload=payload.decode("utf-8", "replace"),
        )
        await self.quarantine_log.append(encode_records([record]))


async def post_events(request: Request) -> Response:
    collector: Collector = request.app.state.collector
    settings = collector.settings
    app_id = app_for_request(request, collector.apps_by_key)
    if app_id is None:
        return error_response(401, "unknown_write_key", "missing or unknown write key")
    body = b""
    try:
        wire = await read_limited(
            request.stream(), request.headers.get("content-length"), settings.max_body_bytes
        )
        body = decompress(
            wire, request.headers.get("content-encoding", ""), settings.max_decompressed_bytes
        )
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
        try:
            await collector.quarantine_body(app_id, error.code, error.detail, body)
        except LogUnavailable:
            return error_response(503, "log_unavailable", "try again later", retry=True)
        return error_response(error.status, error.code, error.detail)

    received_at_ms = int(time.time() * 1000)
    result = ingest_events(
        parsed.events,
        parsed.sent_at,
        app_id,
        received_at_ms,
        collector.cdn_country(request),
        collector.enricher,
    )
    try:
        if result.quarantine:
            await collector.quarantine_log.append(encode_records(result.quarantine))
        await collector.events_log.append(bytes(result.log_bytes))
    except LogUnavailable:
        log.exception("event log unavailable")
        return error_response(503, "log_unavailable", "try again later", retry=True)
    return json_response(202, {"accepted": result.accepted, "rejected": result.rejected})


async def healthz(request: Request) -> Response:
    return json_response(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    collector: Collector = request.app.state.collector
    if not collector.settings.layout.log_dir.is_dir():
        return error_response(503, "not_ready", "event log directory missing", retry=True)
    return json_response(200, {"status": "ready"})


async def event_schema(request: Request) -> Response:
    return json_response(200, event_json_schema())


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        collector = Collector(settings)
        app.state.collector = collector
        collector.events_log.start_sealer()
        collector.quarantine_log.start_sealer()
        try:
            yield
        finally:
            await collector.events_log.close()
            await collector.quarantine_log.close()

    routes = [
        Route("/v1/events", post_events, methods=["POST"]),
        Route("/v1/schema/event.json", event_schema, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
