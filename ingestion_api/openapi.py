"""The OpenAPI 3.1 document of the API, served at `/openapi.json`.

Schemas come from the code: `msgspec.json.schema_components` of the event structs in
`marquee.events` and of the response shapes below, so the document cannot drift from what
the API validates. Paths are declared by hand here, because the routes read their bodies
themselves (no body models to introspect). A route module may add its own operations in a
module-level `openapi_paths` dict (`{path: {method: operation}}`); any route still missing
is listed with a minimal operation, so every route appears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from starlette.routing import BaseRoute, Route

from marquee.events import Event, RejectReason
from marquee.intake.body import EventBatch

REF = "#/components/schemas/{name}"


class Rejection(msgspec.Struct):
    index: int
    """Position of the event in the request."""
    reason: RejectReason


class IngestResponse(msgspec.Struct):
    """202: the valid events are durably in the event log; the others were quarantined."""

    accepted: int
    rejected: list[Rejection]


class ErrorBody(msgspec.Struct):
    """Every error: a stable code (see docs/api.md) and a short detail, never a trace."""

    error: str
    detail: str


class Status(msgspec.Struct):
    status: str


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name=name)}


def _json(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error_response_spec(description: str, retry_after: bool = False) -> dict[str, Any]:
    """An error response in OpenAPI terms: the shared ErrorBody, optionally Retry-After."""
    response = _json(_ref("ErrorBody"), description)
    if retry_after:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def _post_events() -> dict[str, Any]:
    batch = {"oneOf": [_ref("EventBatch"), {"type": "array", "items": _ref("Event")}]}
    return {
        "operationId": "postEvents",
        "summary": "Send a batch of analytics events",
        "description": "An envelope `{sent_at, events}`, a bare JSON array of events, or "
        "NDJSON (one event per line). Valid events are accepted even when others of the "
        "batch are rejected; the response comes only after the accepted events are fsynced. "
        "The body may be gzipped with `Content-Encoding: gzip` (the schemas below are of the "
        "inflated body; a body that is not gzip is 400 `malformed_body`, another encoding "
        "415 `unsupported_encoding`). Not a parameter here: OpenAPI cannot tie a header to "
        "the body's encoding, and a gzip header on a plain body is an error.",
        "security": [{"writeKeyHeader": []}, {"writeKeyQuery": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": batch},
                "text/plain": {
                    "schema": {
                        **batch,
                        "description": "What navigator.sendBeacon sends for a string body.",
                    }
                },
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "One JSON event per line."}
                },
            },
        },
        "responses": {
            "202": _json(_ref("IngestResponse"), "Accepted events are durable."),
            "400": error_response_spec("malformed_body; nothing accepted"),
            "401": error_response_spec("unknown_write_key"),
            "413": error_response_spec(
                "body_too_large, decompressed_too_large, too_many_events or event_too_large; "
                "nothing accepted"
            ),
            "415": error_response_spec("unsupported_media_type or unsupported_encoding"),
            "429": error_response_spec(
                "rate_limited_write_key or rate_limited_client; nothing accepted",
                retry_after=True,
            ),
            "500": error_response_spec("internal_error"),
            "503": error_response_spec("log_unavailable: nothing acknowledged", retry_after=True),
        },
    }


def _get(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"operationId": operation_id, "summary": summary, "responses": responses}}


def _declared_paths() -> dict[str, dict[str, Any]]:
    any_json = {"type": "object"}
    return {
        "/v1/events": {"post": _post_events()},
        "/v1/schema/event.json": _get(
            "getEventSchema",
            "JSON Schema of one event",
            {"200": _json(any_json, "A JSON Schema document.")},
        ),
        "/openapi.json": _get(
            "getOpenApi", "This document", {"200": _json(any_json, "OpenAPI 3.1.")}
        ),
        "/healthz": _get(
            "getHealth", "Liveness: the process answers", {"200": _json(_ref("Status"), "ok")}
        ),
        "/readyz": _get(
            "getReadiness",
            "Readiness: the event log takes writes",
            {
                "200": _json(_ref("Status"), "ready"),
                "503": error_response_spec("not_ready", retry_after=True),
            },
        ),
        "/metrics": _get(
            "getMetrics",
            "Prometheus metrics",
            {
                "200": {
                    "description": "Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        ),
    }


def build_openapi(
    routes: Iterable[BaseRoute], extra_paths: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for these routes."""
    _, components = msgspec.json.schema_components(
        [EventBatch, IngestResponse, ErrorBody, Status], ref_template=REF
    )
    (event_schema,), event_components = msgspec.json.schema_components([Event], ref_template=REF)
    components.update(event_components)
    components["Event"] = event_schema

    paths = _declared_paths()
    for path, operations in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(operations)
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            paths.setdefault(route.path, {}).setdefault(
                method.lower(),
                {
                    "operationId": route.name,
                    "summary": f"{route.name} (see docs/api.md)",
                    "responses": {"default": error_response_spec("any response")},
                },
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Marquee ingestion API",
            "version": "1",
            "description": "The collector players and apps post analytics events to. "
            "Event contract version 1; reason codes and limits in docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "writeKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Write-Key"},
                "writeKeyQuery": {"type": "apiKey", "in": "query", "name": "write_key"},
                "adminToken": {"type": "http", "scheme": "bearer"},
            },
        },
    }
