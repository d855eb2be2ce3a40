"""`POST /v1/cmcd` (CMCD v2 event-mode reports, one per line) and `GET /v1/cmcd?CMCD=...`.

Both take the write key as `/v1/events` does. Each report is mapped to player events
(`ingestion_api.cmcd`) which then take the path of `/v1/events` (`ingest.ingest_events`):
the same validation, enrichment, pseudonymisation and event log. A report is accepted or
rejected as a whole; a rejected one is quarantined as the CMCD line it was (viewer id
pseudonymised), with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingestion_api.auth import require_app
from ingestion_api.cmcd import CmcdMapper, ReportRejected, SessionMemory
from ingestion_api.collector import Collector
from ingestion_api.openapi import error_response_spec
from ingestion_api.ratelimit import limit_write_key
from ingestion_api.responses import error_response, json_response
from marquee.catalog import CatalogIndex
from marquee.catalog_files import CONTENT_FILE
from marquee.intake.body import BodyError, media_type_of, read_body
from marquee.intake.ingest import ingest_events
from marquee.intake.quarantine import QuarantineRecord
from marquee.settings import Settings

log = logging.getLogger("ingestion_api")

CMCD_TYPES = frozenset(("application/cmcd", "text/cmcd", "text/plain"))
"""CTA-5004-B names application/cmcd (earlier drafts and libraries text/cmcd);
navigator.sendBeacon sends a string as text/plain."""

_encoder = msgspec.json.Encoder()


def now_ms() -> int:
    """Now in epoch ms. A route takes it first, as the request's `received_at` (EVENTS.md:
    when the API began reading the request), before the body is read."""
    return int(time.time() * 1000)


def mapper_of(state: State, settings: Settings) -> CmcdMapper:
    """The worker's mapper, made on first use: its session memory lives as long as the app."""
    mapper: CmcdMapper | None = getattr(state, "cmcd_mapper", None)
    if mapper is None:
        mapper = CmcdMapper(
            CatalogIndex(settings.layout.catalog_dir / CONTENT_FILE),
            SessionMemory(settings.cmcd_max_sessions),
            viewer_key=settings.cmcd_viewer_id_key,
            platform_key=settings.cmcd_platform_key,
            max_interval_ms=int(settings.cmcd_max_interval_s * 1000),
        )
        state.cmcd_mapper = mapper
    return mapper


def split_reports(body: bytes, settings: Settings) -> list[str]:
    """The non-empty lines of a report body, within the request limits."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "malformed_body", "a CMCD body must be UTF-8 text") from None
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if len(lines) > settings.max_events_per_request:
        raise BodyError(413, "too_many_events", f"over {settings.max_events_per_request} reports")
    for index, line in enumerate(lines):
        if len(line.encode()) > settings.max_event_bytes:
            raise BodyError(
                413, "event_too_large", f"report {index} is over {settings.max_event_bytes} bytes"
            )
    return lines


async def post_cmcd(request: Request) -> Response:
    received_at_ms = now_ms()
    collector: Collector = request.app.state.collector
    app_id = require_app(request, collector.apps_by_key)
    mapper = mapper_of(request.app.state, collector.settings)
    lines = await read_lines(
        request,
        collector,
        app_id,
        CMCD_TYPES,
        scrub=lambda text: mapper.scrub(text, app_id, collector.enricher.pseudonymise),
        label="cmcd",
    )
    if isinstance(lines, Response):
        return lines
    return await _ingest_reports(request, collector, app_id, lines, received_at_ms)


async def read_lines(
    request: Request,
    collector: Collector,
    app_id: str,
    media_types: frozenset[str],
    scrub: Callable[[str], str],
    label: str,
) -> list[str] | Response:
    """The body's report lines, or the answer to a body refused as a whole (too large,
    not UTF-8, another content type), quarantined as `scrub` leaves its text."""
    settings = collector.settings
    body = b""
    try:
        body = await read_body(request, settings.max_body_bytes, settings.max_decompressed_bytes)
        media_type = media_type_of(request.headers.get("content-type", ""))
        if media_type not in media_types:
            raise BodyError(415, "unsupported_media_type", f"Content-Type {media_type!r}")
        return split_reports(body, settings)
    except BodyError as error:
        payload = scrub(body.decode("utf-8", "replace"))
        return await refuse_body(request, collector, app_id, error, payload, label)


async def refuse_body(
    request: Request,
    collector: Collector,
    app_id: str,
    error: BodyError,
    payload: str,
    label: str,
) -> Response:
    """Quarantine a body refused as a whole and answer with the error.

    `Collector.quarantine_body` only knows the JSON `viewer_id` field; a CMCD body carries
    the viewer id in a custom key, so the caller gives the payload already scrubbed by its
    mapper.
    """
    record = QuarantineRecord(
        quarantined_at_ms=int(time.time() * 1000),
        app_id=app_id,
        reason=error.code,
        detail=f"{label}: {error.detail}",
        payload=payload,
        cdn_country=collector.cdn_country(request),
    )
    await collector.quarantine(record)
    return error_response(error.status, error.code, error.detail)


async def _refuse_report(
    request: Request, collector: Collector, app_id: str, error: BodyError, body: bytes
) -> Response:
    mapper = mapper_of(request.app.state, collector.settings)
    text = body.decode("utf-8", "replace")
    payload = mapper.scrub(text, app_id, collector.enricher.pseudonymise)
    return await refuse_body(request, collector, app_id, error, payload, "cmcd")


async def get_cmcd(request: Request) -> Response:
    received_at_ms = now_ms()
    collector: Collector = request.app.state.collector
    settings = collector.settings
    app_id = require_app(request, collector.apps_by_key)
    report = request.query_params.get("CMCD", "").strip()
    if not report:
        return error_response(400, "malformed_body", "the CMCD query argument is missing")
    if len(report.encode()) > settings.max_event_bytes:
        error = BodyError(
            413, "event_too_large", f"report is over {settings.max_event_bytes} bytes"
        )
        return await _refuse_report(request, collector, app_id, error, report.encode())
    return await _ingest_reports(request, collector, app_id, [report], received_at_ms)


async def _ingest_reports(
    request: Request, collector: Collector, app_id: str, lines: list[str], received_at_ms: int
) -> Response:
    mapper = mapper_of(request.app.state, collector.settings)
    user_agent = request.headers.get("user-agent")
    return await ingest_lines(
        request,
        collector,
        app_id,
        lines,
        catalog=mapper.catalog,
        map_line=lambda line: mapper.map_line(line, app_id, received_at_ms, user_agent),
        remember=mapper.remember,
        scrub=lambda line: mapper.scrub(line, app_id, collector.enricher.pseudonymise),
        received_at_ms=received_at_ms,
        label="cmcd",
    )


class MappedLine(Protocol):
    """What a CMCD mapper makes of one line: its events, and whether it was ignored."""

    @property
    def events(self) -> list[dict[str, Any]]: ...

    @property
    def ignored(self) -> bool: ...


M = TypeVar("M", bound=MappedLine)


async def ingest_lines(
    request: Request,
    collector: Collector,
    app_id: str,
    lines: list[str],
    *,
    catalog: CatalogIndex,
    map_line: Callable[[str], M],
    remember: Callable[[M], None],
    scrub: Callable[[str], str],
    received_at_ms: int,
    label: str,
) -> Response:
    """Map each line (a report, a log line) and ingest its events as `/v1/events` does.

    A line is accepted or rejected as a whole: a rejected one (`ReportRejected`, or one of
    its events refused) is quarantined as `scrub` leaves it, detail prefixed with `label`;
    an accepted one is remembered by its mapper once its events are taken.
    """
    limited = await limit_write_key(request, len(lines))
    if limited is not None:
        return limited
    if catalog.stale():
        await run_in_threadpool(catalog.refresh)
    cdn_country = collector.cdn_country(request)
    log_bytes = bytearray()
    quarantine: list[QuarantineRecord] = []
    rejected: list[dict[str, object]] = []
    accepted = events = ignored = 0
    for index, line in enumerate(lines):
        try:
            mapped = map_line(line)
            if mapped.events:
                result = ingest_events(
                    [_encoder.encode(event) for event in mapped.events],
                    None,
                    app_id,
                    received_at_ms,
                    cdn_country,
                    collector.enricher,
                )
                if result.rejected:
                    first = result.quarantine[0]
                    raise ReportRejected(first.reason, first.detail)
                log_bytes += result.log_bytes
                events += result.accepted
        except ReportRejected as rejection:
            rejected.append({"index": index, "reason": rejection.reason})
            quarantine.append(
                QuarantineRecord(
                    quarantined_at_ms=received_at_ms,
                    app_id=app_id,
                    reason=rejection.reason,
                    detail=f"{label}: {rejection.detail}",
                    index=index,
                    payload=scrub(line),
                    cdn_country=cdn_country,
                )
            )
            continue
        remember(mapped)
        accepted += 1
        ignored += mapped.ignored
    if quarantine:
        await collector.quarantine(*quarantine)  # an erased viewer's lines: kept nowhere
    if log_bytes:
        await collector.events_log.append(bytes(log_bytes))
    return json_response(
        202, {"accepted": accepted, "rejected": rejected, "events": events, "ignored": ignored}
    )


routes: list[BaseRoute] = [
    Route("/v1/cmcd", post_cmcd, methods=["POST"]),
    Route("/v1/cmcd", get_cmcd, methods=["GET"]),
]


_ACCEPTED = {
    "description": "The accepted reports' events are durable; rejected ones are quarantined.",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "accepted": {"type": "integer", "description": "reports accepted"},
                    "events": {"type": "integer", "description": "events written"},
                    "ignored": {
                        "type": "integer",
                        "description": "accepted reports of event types not mapped",
                    },
                    "rejected": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "index": {"type": "integer"},
                                "reason": {"type": "string"},
                            },
                        },
                    },
                },
            }
        }
    },
}
_COMMON_ERRORS = {
    "401": error_response_spec("unknown_write_key"),
    "413": error_response_spec(
        "too_many_events, event_too_large, body_too_large, decompressed_too_large"
    ),
    "429": error_response_spec("rate limited"),
    "500": error_response_spec("internal_error"),
    "503": error_response_spec("log_unavailable: nothing acknowledged"),
}
_REPORTS = {"type": "string", "description": "CMCD reports, one per line (CTA-5004-B)."}

openapi_paths = {
    "/v1/cmcd": {
        "post": {
            "operationId": "postCmcd",
            "summary": "Send CMCD v2 event-mode reports",
            "description": "One CMCD report per line; each is mapped onto player events "
            "(see docs/cmcd-and-catalogue.md).",
            "security": [{"writeKeyHeader": []}, {"writeKeyQuery": []}],
            "requestBody": {
                "required": True,
                "content": {media: {"schema": _REPORTS} for media in sorted(CMCD_TYPES)},
            },
            "responses": {
                "202": _ACCEPTED,
                "400": error_response_spec("malformed_body"),
                "415": error_response_spec("unsupported_media_type or unsupported_encoding"),
                **_COMMON_ERRORS,
            },
        },
        "get": {
            "operationId": "getCmcd",
            "summary": "Send one CMCD report in the URL",
            "security": [{"writeKeyHeader": []}, {"writeKeyQuery": []}],
            "parameters": [
                {
                    "name": "CMCD",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                    "description": "One URL-encoded CMCD report.",
                }
            ],
            "responses": {
                "202": _ACCEPTED,
                "400": error_response_spec("malformed_body: no CMCD argument"),
                **_COMMON_ERRORS,
            },
        },
    }
}
