"""`PUT /v1/catalog/creators` and `PUT /v1/catalog/content`: catalogue upserts (admin token).

The body is a JSON array of records, upserted by id into the catalogue files
(`marquee.catalog`). Invalid records are refused one by one with a reason; the valid
ones of the same request are stored. The merge runs in a worker thread: it takes a file
lock and fsyncs, which must not block the event loop.
"""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingestion_api.collector import Collector
from ingestion_api.openapi import error_response_spec
from ingestion_api.responses import error_response, json_response
from marquee.catalog import (
    CatalogBodyError,
    CatalogFileInvalid,
    CatalogKind,
    CatalogStore,
    validate_records,
)
from marquee.intake.body import JSON_TYPES, BodyError, media_type_of, read_body
from marquee.settings import Settings


def admin_refusal(request: Request, settings: Settings) -> Response | None:
    """None when the request carries the admin bearer token, else the error response.

    503 when no admin token is configured (the admin endpoints are off), 401 for a
    missing or wrong token. The comparison takes constant time.
    """
    token = settings.admin_token
    if not token:
        return error_response(
            503,
            "admin_token_not_configured",
            "the admin endpoints are off: set MARQUEE_ADMIN_TOKEN",
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        return json_response(
            401,
            {"error": "invalid_admin_token", "detail": "missing or wrong admin bearer token"},
            {"WWW-Authenticate": 'Bearer realm="marquee-admin"'},
        )
    return None


async def _put_catalog(request: Request, kind: CatalogKind) -> Response:
    collector: Collector = request.app.state.collector
    settings = collector.settings
    refused = admin_refusal(request, settings)
    if refused is not None:
        return refused
    media_type = media_type_of(request.headers.get("content-type", ""))
    if media_type not in JSON_TYPES:
        return error_response(415, "unsupported_media_type", f"Content-Type {media_type!r}")
    try:
        body = await read_body(
            request, settings.catalog_max_body_bytes, settings.catalog_max_body_bytes
        )
    except BodyError as error:
        return error_response(error.status, error.code, error.detail)
    try:
        validated = validate_records(kind, body)
    except CatalogBodyError as error:
        return error_response(400, "malformed_body", str(error))
    store = CatalogStore(settings.layout.catalog_dir)
    try:
        total = await run_in_threadpool(store.upsert_validated, kind, validated)
    except CatalogFileInvalid as error:
        return error_response(409, "catalog_file_invalid", str(error))
    return json_response(
        200,
        {"upserted": len(validated.records), "rejected": validated.rejected, "records": total},
    )


async def put_creators(request: Request) -> Response:
    return await _put_catalog(request, "creators")


async def put_content(request: Request) -> Response:
    return await _put_catalog(request, "content")


routes: list[BaseRoute] = [
    Route("/v1/catalog/creators", put_creators, methods=["PUT"]),
    Route("/v1/catalog/content", put_content, methods=["PUT"]),
]


def _put_operation(kind: CatalogKind, fields: list[str]) -> dict[str, object]:
    response = {
        "type": "object",
        "properties": {
            "upserted": {"type": "integer"},
            "records": {"type": "integer", "description": "records in the catalogue file"},
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "reason": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
    return {
        "operationId": f"putCatalog{kind.title()}",
        "summary": f"Upsert {kind} records by id (admin token)",
        "description": "A JSON array of records (" + ", ".join(fields) + "), each replacing "
        "the stored record with its id. Invalid records are rejected one by one.",
        "security": [{"adminToken": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "array", "items": {}}}},
        },
        "responses": {
            "200": {
                "description": "Valid records are durably in the catalogue file.",
                "content": {"application/json": {"schema": response}},
            },
            "400": error_response_spec("malformed_body: not a JSON array"),
            "401": error_response_spec("invalid_admin_token"),
            "409": error_response_spec(
                "catalog_file_invalid: the file on disk is not a JSON array"
            ),
            "413": error_response_spec("body_too_large or decompressed_too_large"),
            "415": error_response_spec("unsupported_media_type or unsupported_encoding"),
            "429": error_response_spec("rate limited"),
            "500": error_response_spec("internal_error"),
            "503": error_response_spec("admin_token_not_configured"),
        },
    }


openapi_paths = {
    "/v1/catalog/creators": {
        "put": _put_operation("creators", ["creator_id", "name", "created_at"])
    },
    "/v1/catalog/content": {
        "put": _put_operation(
            "content",
            [
                "content_id",
                "creator_id",
                "content_type",
                "title",
                "duration_ms",
                "published_at",
                "expires_at",
                "deleted_at",
                "announces_live_id",
                "source_live_id",
            ],
        )
    },
}
