"""Operability of the real API process: health, readiness, metrics, JSON logs, OpenAPI."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import httpx
import jsonschema
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31

from marquee.events import EVENT_TYPES
from tests.support.api import WRITE_KEY, ApiProcess, LaunchedApi, event, scrape, stop

pytestmark = pytest.mark.integration


def test_healthz_and_readyz_answer_json(api: ApiProcess) -> None:
    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{api.url}/readyz").json() == {"status": "ready"}
    probes = [path for path in (api.data_dir / "log").iterdir() if "probe" in path.name]
    assert probes == []


def test_metrics_count_requests_events_and_rejections_by_reason(api: ApiProcess) -> None:
    missing = event()
    del missing["session_id"]
    batch = [event(), event(), missing, event(type="teleported"), event(platform="xbox")]
    assert api.post({"events": batch}).json()["accepted"] == 2
    assert api.post([event()]).status_code == 202
    assert api.post([event()], key="nope").status_code == 401
    headers = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"}
    assert httpx.post(f"{api.url}/v1/events", content=b"{", headers=headers).status_code == 400
    assert httpx.get(f"{api.url}/no/such/path").status_code == 404

    samples = scrape(api)
    assert samples[("marquee_events_accepted_total", ())] == 3
    by_reason = {
        labels[0][1]: value
        for (name, labels), value in samples.items()
        if name == "marquee_events_rejected_total"
    }
    assert by_reason["missing_field"] == 1
    assert by_reason["unknown_type"] == 1
    assert by_reason["invalid_field"] == 1
    assert by_reason["event_too_old"] == 0

    def requests(route: str, status: str) -> float:
        labels = (("method", "POST"), ("route", route), ("status", status))
        return samples.get(("marquee_http_requests_total", labels), 0)

    assert requests("/v1/events", "202") == 2
    assert requests("/v1/events", "401") == 1
    assert requests("/v1/events", "400") == 1
    errors = {
        dict(labels)["code"]: value
        for (name, labels), value in samples.items()
        if name == "marquee_http_errors_total"
    }
    assert errors == {"unknown_write_key": 1, "malformed_body": 1, "not_found": 1}
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert samples[("marquee_http_requests_total", unmatched)] == 1
    assert samples[("marquee_log_append_seconds_count", ())] == 2
    assert samples[("marquee_log_append_seconds_sum", ())] > 0


def test_segment_gauges_follow_the_log_directory(launched: Callable[..., LaunchedApi]) -> None:
    api = launched(
        {"MARQUEE_SEGMENT_MAX_AGE_S": "3600", "MARQUEE_SEGMENT_MAX_BYTES": "2000"},
    )
    samples = scrape(api)
    assert samples[("marquee_open_segment_age_seconds", ())] == 0
    assert samples[("marquee_sealed_segments", ())] == 0
    assert api.post([event()]).status_code == 202  # about 400 bytes: the segment stays open
    time.sleep(1.2)
    samples = scrape(api)
    assert samples[("marquee_open_segment_age_seconds", ())] >= 1
    assert samples[("marquee_sealed_segments", ())] == 0
    assert api.post([event() for _ in range(10)]).status_code == 202  # over 2000 bytes: sealed
    samples = scrape(api)
    assert samples[("marquee_sealed_segments", ())] == 1
    assert samples[("marquee_open_segment_age_seconds", ())] == 0


def test_metrics_are_summed_over_workers(launched: Callable[..., LaunchedApi]) -> None:
    api = launched(args=("--workers", "2", "--log-level", "warning"))
    for _ in range(30):  # a new connection each time, so both workers take some
        assert api.post([event(), event()]).status_code == 202
    writers = {path.name.split("-")[1] for path in (api.data_dir / "log").glob("*-*-*.*")}
    assert len(writers) == 2  # each worker writes its own segments: both took events
    totals = {scrape(api)[("marquee_events_accepted_total", ())] for _ in range(6)}
    assert totals == {60}


def test_logs_are_json_lines_without_viewer_ids(launched: Callable[..., LaunchedApi]) -> None:
    api = launched(args=("--log-level", "info"))
    assert api.post([event(viewer_id="viewer-secret-77")]).status_code == 202
    stop(api)
    time.sleep(0.2)
    lines = api.logs()
    assert len(lines) >= 4  # uvicorn start-up and shutdown, the event log in use
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= set(entry)
        assert entry["ts"].endswith("Z")
    loggers = {json.loads(line)["logger"] for line in lines}
    assert {"uvicorn.error", "ingestion_api"} <= loggers
    assert not any("viewer-secret-77" in line for line in lines)


def test_openapi_document_is_valid_openapi_3_1(api: ApiProcess) -> None:
    response = httpx.get(f"{api.url}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert list(jsonschema.Draft202012Validator(OPENAPI_31).iter_errors(document)) == []
    post = document["paths"]["/v1/events"]["post"]
    assert {"202", "400", "401", "413", "415", "429", "503"} <= set(post["responses"])
    assert "Retry-After" in post["responses"]["429"]["headers"]
    schemas = document["components"]["schemas"]
    titles = json.dumps(schemas)
    assert all(f'"{event_type}"' in titles for event_type in EVENT_TYPES)
    reasons = schemas["RejectReason"]["enum"]
    assert "missing_field" in reasons and "event_too_old" in reasons

    def refs(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for item in node:
                yield from refs(item)

    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for path in ("/healthz", "/readyz", "/metrics", "/v1/schema/event.json"):
        assert path in document["paths"]
    assert httpx.get(f"{api.url}/v1/schema/event.json").status_code == 200
