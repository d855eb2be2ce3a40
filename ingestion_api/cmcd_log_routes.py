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
    read_lines,
)
from ingestion_api.cmcd_v1_log import V1Mapper, V1Memory
from ingestion_api.collector import Collector
from ingestion_api.openapi import error_response_spec
from marquee.catalog import CatalogIndex
from marquee.catalog_files import CONTENT_FILE
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
    app_id = require_app(request, collector.apps_by_key)
    mapper = v1_mapper_of(request.app.state, collector.settings)

    def scrub_log(text: str) -> str:
        pseudonymise = collector.enricher.pseudonymise
        return "\n".join(mapper.scrub(line, app_id, pseudonymise) for line in text.split("\n"))

    lines = await read_lines(request, collector, app_id, LOG_TYPES, scrub_log, "cmcd cdn-log")
    if isinstance(lines, Response):
        return lines
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
