"""`POST /v1/privacy/erasure` and `GET /v1/privacy/erasure/{id}` (admin token).

The POST pseudonymises the viewer id for every app this API serves (the keyed hash is per
app; the raw id is never written), records the erasure as a durable job file
(`marquee.privacy.jobs`) and answers 202 with its id and status. From then on every worker
drops that viewer's events at ingest (the job file is the tombstone); the rewrite of the
stores is done by the erasure worker in the refresh loop (docs/privacy.md). The GET
answers the job's status and the steps it has done.
"""

from __future__ import annotations

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ingestion_api.catalog_routes import admin_refusal
from ingestion_api.collector import Collector
from ingestion_api.openapi import error_response_spec
from ingestion_api.responses import error_response, json_response
from marquee.intake.body import JSON_TYPES, BodyError, media_type_of, read_body
from marquee.privacy.jobs import new_job, public_view, read_job

MAX_BODY_BYTES = 16 * 1024
"""An erasure request is one small object."""


class ErasureRequest(msgspec.Struct, forbid_unknown_fields=True):
    viewer_id: str
    app_id: str | None = None
    """Erase in this app only (one whose write key was retired too); absent: in every app
    of the write keys."""


_decoder = msgspec.json.Decoder(ErasureRequest)


async def post_erasure(request: Request) -> Response:
    collector: Collector = request.app.state.collector
    settings = collector.settings
    refused = admin_refusal(request, settings)
    if refused is not None:
        return refused
    media_type = media_type_of(request.headers.get("content-type", ""))
    if media_type not in JSON_TYPES:
        return error_response(415, "unsupported_media_type", f"Content-Type {media_type!r}")
    try:
        body = await read_body(request, MAX_BODY_BYTES, MAX_BODY_BYTES)
        erasure = _decoder.decode(body)
    except BodyError as error:
        return error_response(error.status, error.code, error.detail)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        return error_response(400, "malformed_body", str(error))
    if not erasure.viewer_id or len(erasure.viewer_id) > 128:
        return error_response(400, "malformed_body", "viewer_id must be 1 to 128 characters")
    apps = sorted(set(collector.apps_by_key.values()))
    if erasure.app_id is not None:
        apps = [erasure.app_id]  # one no longer in the write keys may still have data
    if not apps:
        return error_response(409, "no_apps", "no write keys are configured")
    pseudonymise = collector.enricher.pseudonymise
    pseudonyms = [pseudonymise(app_id, erasure.viewer_id) for app_id in apps]
    job = await run_in_threadpool(new_job, settings.layout, pseudonyms)
    return json_response(202, {"erasure_id": job.erasure_id, "status": job.status})


async def get_erasure(request: Request) -> Response:
    collector: Collector = request.app.state.collector
    refused = admin_refusal(request, collector.settings)
    if refused is not None:
        return refused
    erasure_id = request.path_params["erasure_id"]
    job = await run_in_threadpool(read_job, collector.settings.layout, erasure_id)
    if job is None:
        return error_response(404, "erasure_not_found", "no erasure with this id")
    return json_response(200, public_view(job))


routes: list[BaseRoute] = [
    Route("/v1/privacy/erasure", post_erasure, methods=["POST"]),
    Route("/v1/privacy/erasure/{erasure_id}", get_erasure, methods=["GET"]),
]

_STATUS = {
    "type": "object",
    "required": [
        "erasure_id",
        "status",
        "requested_at_ms",
        "steps",
        "steps_done",
        "rows",
        "seconds",
    ],
    "properties": {
        "erasure_id": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "running", "completed"]},
        "requested_at_ms": {"type": "integer"},
        "completed_at_ms": {"type": "integer"},
        "steps": {"type": "array", "items": {"type": "string"}},
        "steps_done": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "object", "additionalProperties": {"type": "integer"}},
        "seconds": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}

openapi_paths = {
    "/v1/privacy/erasure": {
        "post": {
            "operationId": "postPrivacyErasure",
            "summary": "Erase a viewer's viewer-level data everywhere (admin token)",
            "description": "The viewer id is pseudonymised for every app of the write keys "
            "(or for `app_id` only, which may be an app whose key was retired) "
            "and never stored. From the answer on, the viewer's events are dropped at "
            "ingest for the lateness horizon; the erasure worker re-keys the viewer's rows "
            "in the log, quarantine, lake, warehouse and published copy (docs/privacy.md).",
            "security": [{"adminToken": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["viewer_id"],
                            "additionalProperties": False,
                            "properties": {
                                "viewer_id": {"type": "string", "minLength": 1, "maxLength": 128},
                                "app_id": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "202": {
                    "description": "The erasure is recorded durably; it runs in the background.",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["erasure_id", "status"],
                                "properties": {
                                    "erasure_id": {"type": "string"},
                                    "status": {"type": "string", "enum": ["pending"]},
                                },
                            }
                        }
                    },
                },
                "400": error_response_spec("malformed_body"),
                "401": error_response_spec("invalid_admin_token"),
                "409": error_response_spec("no_apps: no write keys are configured"),
                "413": error_response_spec("body_too_large"),
                "415": error_response_spec("unsupported_media_type or unsupported_encoding"),
                "429": error_response_spec("rate limited"),
                "500": error_response_spec("internal_error"),
                "503": error_response_spec("admin_token_not_configured"),
            },
        }
    },
    "/v1/privacy/erasure/{erasure_id}": {
        "get": {
            "operationId": "getPrivacyErasure",
            "summary": "An erasure's status (admin token)",
            "security": [{"adminToken": []}],
            "parameters": [
                {
                    "name": "erasure_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": {
                    "description": "The erasure's status, steps and rows re-keyed per store.",
                    "content": {"application/json": {"schema": _STATUS}},
                },
                "401": error_response_spec("invalid_admin_token"),
                "404": error_response_spec("erasure_not_found"),
                "429": error_response_spec("rate limited"),
                "500": error_response_spec("internal_error"),
                "503": error_response_spec("admin_token_not_configured"),
            },
        }
    },
}
