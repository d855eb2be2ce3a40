"""Property-based fuzzing of the real API process: no 5xx, and only valid events in the log.

Hypothesis posts generated requests (valid events with one field mutated, random JSON,
random bytes, random content types and encodings, missing or wrong write keys) to one API
process. Every answer must be a 2xx/4xx with a JSON body; afterwards every record in the
event log must be a valid event once its enrichment is undone, and the log must hold
exactly as many records as the 202 answers accepted.

Schemathesis then generates requests for every operation of the API's own /openapi.json
(offline: the document comes from the process under test) and checks that no answer is a
5xx and that each status and body is one the document declares.
"""

from __future__ import annotations

import gzip
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from marquee.eventlog.segments import OPEN_SUFFIX, SEALED_SUFFIX
from marquee.events import EVENT_TYPES, RejectReason, decode_event
from tests.support.api import APP_ID, WRITE_KEY, LaunchedApi, launch_api, stop

VIEWER_MARKER = "fuzz-viewer-"
SERVER_FIELDS = ("event_time_ms", "received_at_ms", "app_id")
ERROR_STATUSES = {400, 401, 413, 415}
REASONS = {reason.value for reason in RejectReason}

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedApi]:
    api = launch_api(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        yield api
    finally:
        stop(api)


def base_event(event_type: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "ts": int(time.time() * 1000),
        "viewer_id": f"{VIEWER_MARKER}{uuid.uuid4().hex[:8]}",
        "platform": "web",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": "s_1",
        "startup_ms": 120,
        "reason": "completed",
        "quartile": 50,
        "action": "tap_back",
        "target_id": "story_1",
        "target_type": "story",
        "reaction": "heart",
        "amount_minor": 100,
        "currency": "EUR",
    }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

FIELDS = sorted(set(base_event("heartbeat")) | {"seq", "country", "played_ms", "state", "ts"})
interesting_values = st.sampled_from(
    [
        "",
        "not-a-uuid",
        -1,
        2**63,
        1e300,
        "2026-11-21T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "\u0000\ud7ff",
        "x" * 300,
        "FR",
        "fr",
        [],
        {},
    ]
)


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A valid event of any type, then zero or one field removed, replaced or added."""
    event = base_event(draw(st.sampled_from(EVENT_TYPES)))
    mutation = draw(
        st.sampled_from(["none", "drop", "replace", "interesting", "add", "raw", "viewer_shape"])
    )
    field = draw(st.sampled_from(FIELDS))
    if mutation == "drop":
        event.pop(field, None)
    elif mutation == "replace":
        event[field] = draw(json_values)
    elif mutation == "interesting":
        event[field] = draw(interesting_values)
    elif mutation == "add":
        event[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
    elif mutation == "raw":
        return draw(json_values)
    elif mutation == "viewer_shape":  # the raw id inside another value: never stored raw
        viewer_id = event["viewer_id"]
        event["viewer_id"] = draw(
            st.sampled_from([[viewer_id], {"id": viewer_id}, [[viewer_id, 1]], {"a": [viewer_id]}])
        )
    return event


def hostile_text(draw: st.DrawFn, body: bytes) -> bytes:
    """The body as text an attacker could send: an escaped key, invalid UTF-8 inside the
    viewer id, JSON nested past the parser's limit, or cut short; mostly left alone."""
    change = draw(st.sampled_from(["none", "none", "none", "escaped", "utf8", "deep", "cut"]))
    marker = VIEWER_MARKER.encode()
    if change == "escaped":
        return body.replace(b'"viewer_id"', b'"viewer\\u005fid"')
    if change == "utf8":
        return body.replace(marker, marker + b"\xc3(", 1)
    if change == "deep" and body.endswith(b"}"):
        return body[:-1] + b',"deep":' + b"[" * 1500 + b"]" * 1500 + b"}"
    if change == "cut":
        return body[: len(body) // 2]
    return body


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str], str]:
    """(body, headers, query string) of one generated request."""
    events = draw(st.lists(mutated_events(), max_size=6))
    shape = draw(st.sampled_from(["envelope", "array", "ndjson", "json", "bytes"]))
    if shape == "envelope":
        envelope: dict[str, Any] = {"events": events}
        if draw(st.booleans()):
            envelope["sent_at"] = draw(
                st.one_of(st.just(int(time.time() * 1000)), st.just("2026-01-01"), json_values)
            )
        body = json.dumps(envelope).encode()
    elif shape == "array":
        body = json.dumps(events).encode()
    elif shape == "ndjson":
        body = b"".join(json.dumps(event).encode() + b"\n" for event in events)
    elif shape == "json":
        body = json.dumps(draw(json_values)).encode()
    else:
        body = draw(st.binary(max_size=300))
    body = hostile_text(draw, body)
    content_type = draw(
        st.sampled_from(
            [
                "application/json",
                "text/plain;charset=UTF-8",
                "application/x-ndjson",
                "application/xml",
                "multipart/form-data; boundary=x",
                "",
            ]
        )
        # Printable ASCII without surrounding blanks: what an HTTP client can send at all.
        | st.text(max_size=20).map(lambda text: re.sub(r"[^\x20-\x7e]", "", text).strip())
    )
    headers = {"Content-Type": content_type} if content_type else {}
    encoding = draw(st.sampled_from(["", "", "gzip", "gzip-but-not", "br", "identity"]))
    if encoding == "gzip":
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    elif encoding == "gzip-but-not":
        headers["Content-Encoding"] = "gzip"
    elif encoding:
        headers["Content-Encoding"] = encoding
    key = draw(st.sampled_from(["header", "header", "header", "query", "missing", "wrong"]))
    query = ""
    if key == "header":
        headers["X-Write-Key"] = WRITE_KEY
    elif key == "query":
        query = f"?write_key={WRITE_KEY}"
    elif key == "wrong":
        headers["X-Write-Key"] = "wk_not_a_key"
    return body, headers, query


def check_record(record: dict[str, Any], started_ms: int) -> None:
    """A log record is a valid event once the enrichment is undone, with sane server fields."""
    assert record["app_id"] in (APP_ID, "other_app")
    assert isinstance(record["received_at_ms"], int)
    assert started_ms <= record["received_at_ms"] <= int(time.time() * 1000)
    assert isinstance(record["event_time_ms"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", record["viewer_key"])
    event = {name: value for name, value in record.items() if name not in SERVER_FIELDS}
    event["viewer_id"] = event.pop("viewer_key")
    event["ts"] = event.pop("client_ts_ms")
    decode_event(msgspec.json.encode(event))  # raises EventRejected if not a valid event


def log_records(data_dir: Path) -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted((data_dir / "log").iterdir()):
        if path.suffix in (OPEN_SUFFIX, SEALED_SUFFIX):
            data = path.read_bytes()
            assert not data or data.endswith(b"\n")
            lines += [line for line in data.split(b"\n") if line]
    return lines


def test_generated_requests_never_get_a_5xx_and_only_valid_events_are_logged(
    fuzz_api: LaunchedApi,
) -> None:
    started_ms = int(time.time() * 1000)
    accepted = 0
    statuses: dict[int, int] = {}
    client = httpx.Client(base_url=fuzz_api.url, timeout=10)

    @settings(
        max_examples=250,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests())
    def post(request: tuple[bytes, dict[str, str], str]) -> None:
        nonlocal accepted
        body, headers, query = request
        response = client.post(f"/v1/events{query}", content=body, headers=headers)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.text
        assert "Traceback" not in response.text
        answer = response.json()
        if response.status_code == 202:
            assert isinstance(answer["accepted"], int) and answer["accepted"] >= 0
            assert all(item["reason"] in REASONS for item in answer["rejected"])
            accepted += answer["accepted"]
        else:
            assert response.status_code in ERROR_STATUSES, response.text
            assert isinstance(answer["error"], str)

    try:
        post()
    finally:
        client.close()
    assert statuses.get(202, 0) > 0 and accepted > 0
    records = log_records(fuzz_api.data_dir)
    assert len(records) == accepted
    for line in records:
        check_record(json.loads(line), started_ms)
        assert VIEWER_MARKER.encode() not in line
    assert VIEWER_MARKER.encode() not in quarantine_bytes(fuzz_api.data_dir)


def quarantine_bytes(data_dir: Path) -> bytes:
    """Every quarantine segment's bytes, read again if one is sealed (renamed) meanwhile."""
    for _ in range(20):
        try:
            return b"".join(p.read_bytes() for p in (data_dir / "quarantine").iterdir())
        except FileNotFoundError:
            time.sleep(0.05)
    raise AssertionError("the quarantine kept changing while it was read")


def test_bodies_refused_whole_keep_no_raw_viewer_id_in_the_quarantine(
    fuzz_api: LaunchedApi,
) -> None:
    url, headers = f"{fuzz_api.url}/v1/events", {"X-Write-Key": WRITE_KEY}
    envelope = {"events": [base_event("heartbeat")], "sent_at": "not a time"}
    assert httpx.post(url, json=envelope, headers=headers).status_code == 400
    too_many = [base_event("heartbeat") for _ in range(501)]
    assert httpx.post(url, json=too_many, headers=headers).status_code == 413
    assert VIEWER_MARKER.encode() not in quarantine_bytes(fuzz_api.data_dir)


def test_every_documented_operation_conforms_to_the_openapi_document(tmp_path: Path) -> None:
    admin_token = "fuzz-admin-token"
    api = launch_api(tmp_path / "data", {"MARQUEE_ADMIN_TOKEN": admin_token})
    headers = {"X-Write-Key": WRITE_KEY, "Authorization": f"Bearer {admin_token}"}
    # positive_data_acceptance: a request the document allows is not refused (a gzip
    # header on a plain body, an empty CMCD argument, a non-time string or 285069.0 as
    # sent_at were). Not negative_data_rejection: an invalid event or report is rejected
    # alone in a 202 by design (EVENTS.md), a text body (text/cmcd) of a "wrong" type is
    # still text the API reads, and unknown query arguments are ignored on purpose.
    checks = [
        not_a_server_error,
        status_code_conformance,
        response_schema_conformance,
        response_headers_conformance,
        content_type_conformance,
        positive_data_acceptance,
    ]
    try:
        schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result.err()
            operations.append(result.ok())
        assert "POST /v1/events" in {operation.label for operation in operations}
        for operation in operations:

            @settings(
                max_examples=40 if operation.label == "POST /v1/events" else 15,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(operation.as_strategy())
            def call(case: Any) -> None:
                case.validate_response(case.call(headers=headers), checks=checks)

            call()
    finally:
        stop(api)


def test_a_method_a_path_does_not_have_gets_405_listing_the_documented_methods(
    fuzz_api: LaunchedApi,
) -> None:
    document = httpx.get(f"{fuzz_api.url}/openapi.json").json()
    for path, operations in document["paths"].items():
        if "{" in path:
            continue
        documented = {method.upper() for method in operations}
        if "GET" in documented:
            documented.add("HEAD")
        response = httpx.request("DELETE", f"{fuzz_api.url}{path}")
        assert response.status_code == 405, path
        assert response.json()["error"] == "method_not_allowed"
        allowed = {method.strip() for method in response.headers["allow"].split(",")}
        assert allowed == documented, path
