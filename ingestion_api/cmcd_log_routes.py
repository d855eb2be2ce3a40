"""`POST /v1/cmcd/cdn-log`: CDN log lines carrying CMCD v1, posted by a log forwarder.

NDJSON, one request of a player per line (the format: `ingestion_api.cmcd_v1_log`,
docs/cmcd-players.md). The write key, body limits and rate limit are those of
`POST /v1/cmcd`; each line is accepted or rejected as a whole, a rejected one quarantined
with its reason (its viewer id pseudonymised: `cmcd_scrub`) and answered in `rejected` with
its index. An accepted line's events take the path of `/v1/events` (`ingest.ingest_events`).
"""

from __future__ import annotations

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingestion_api.auth import require_app
from ingestion_api.cmcd_routes import (
    _ACCEPTED,
    _COMMON_ERRORS,
    ingest_lines,
    now_ms,
    refuse_body,
    split_reports,
)
from ingestion_api.cmcd_v1_log import V1Mapper, V1Memory
from ingestion_api.collector import Collector
from ingestion_api.openapi import error_response_spec
from marquee.catalog import CatalogIndex
from marquee.catalog_files import CONTENT_FILE
from marquee.intake.body import BodyError, media_type_of, read_body
from marquee.settings import Settings

LOG_TYPES = frozenset(("application/x-ndjson", "application/jsonl", "application/json"))
CDN_LOG_PATH = "/v1/cmcd/cdn-log"


def v1_mapper_of(state: State, settings: Settings) -> V1Mapper:
    """The worker's v1 mapper, made on first use: its session memory lives with the app."""
    mapper: V1Mapper | None = getattr(state, "cmcd_v1_mapper", None)
    if mapper is None:
        mapper = V1Mapper(
            CatalogIndex(settings.layout.catalog_dir / CONTENT_FILE),
            V1Memory(settings.cmcd_max_sessions),
            viewer_key=settings.cmcd_viewer_id_key,
        )
        state.cmcd_v1_mapper = mapper
    return mapper


async def post_cdn_log(request: Request) -> Response:
    received_at_ms = now_ms()
    collector: Collector = request.app.state.collector
    settings = collector.settings
    app_id = require_app(request, collector.apps_by_key)
    body = b""
    try:
        body = await read_body(request, settings.max_body_bytes, settings.max_decompressed_bytes)
        media_type = media_type_of(request.headers.get("content-type", ""))
        if media_type not in LOG_TYPES:
            raise BodyError(415, "unsupported_media_type", f"Content-Type {media_type!r}")
        lines = split_reports(body, settings)
    except BodyError as error:
        mapper = v1_mapper_of(request.app.state, settings)
        text = body.decode("utf-8", "replace")
        payload = "\n".join(
            mapper.scrub(line, app_id, collector.enricher.pseudonymise) for line in text.split("\n")
        )
        return await refuse_body(request, collector, app_id, error, payload, "cmcd cdn-log")
    mapper = v1_mapper_of(request.app.state, settings)
    return await ingest_lines(
        request,
        collector,
        app_id,
        lines,
        catalog=mapper.catalog,
        map_line=lambda line: mapper.map_line(line.encode(), app_id),
        remember=mapper.remember,
        scrub=lambda line: mapper.scrub(line, app_id, collector.enricher.pseudonymise),
        received_at_ms=received_at_ms,
        label="cmcd cdn-log",
    )


routes: list[BaseRoute] = [Route(CDN_LOG_PATH, post_cdn_log, methods=["POST"])]

_LOG_LINE = {
    "type": "object",
    "required": ["ts"],
    "properties": {
        "ts": {"type": "integer", "description": "request time, epoch ms"},
        "cmcd": {"type": "string", "description": "the CMCD query argument's value"},
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "the CMCD-Object/-Request/-Session/-Status request headers",
        },
        "ua": {"type": "string", "description": "the request's User-Agent"},
        "url": {"type": "string", "description": "the object requested (deduplicates)"},
        "duration_ms": {"type": "integer", "description": "request duration (not used yet)"},
        "bytes": {"type": "integer", "description": "bytes sent (not used yet)"},
    },
}

openapi_paths = {
    CDN_LOG_PATH: {
        "post": {
            "operationId": "postCmcdCdnLog",
            "summary": "Send CDN log lines carrying CMCD v1 (one JSON object per line)",
            "description": "Each line is one object request of a player, with its CMCD v1 "
            "data (query argument or headers); sessions are derived from request timing "
            "(see docs/cmcd-players.md, The CDN-log path).",
            "security": [{"writeKeyHeader": []}, {"writeKeyQuery": []}],
            "requestBody": {
                "required": True,
                "content": {
                    media: {"schema": {"type": "string", "description": "NDJSON"}}
                    for media in sorted(LOG_TYPES)
                },
                "x-line-schema": _LOG_LINE,
            },
            "responses": {
                "202": _ACCEPTED,
                "400": error_response_spec("malformed_body: not UTF-8"),
                "415": error_response_spec("unsupported_media_type or unsupported_encoding"),
                **_COMMON_ERRORS,
            },
        }
    }
}
