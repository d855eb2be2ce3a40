"""Protection of the real API process: rate limits, CORS, 503 on a failing log, no traces.

Each limit is made tiny through the environment of its own API process. The failing log
is real: the API runs under a file-size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ), so
its writes to the segment files fail with EFBIG exactly as on a full disk.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ingestion_api.observability import log_config
from marquee.eventlog.segments import OPEN_SUFFIX, SEALED_SUFFIX
from tests.support.api import WRITE_KEY, ApiProcess, LaunchedApi, event, scrape, stop

pytestmark = pytest.mark.integration

ORIGIN = "https://player.example"


def logged_lines(data_dir: Path) -> list[bytes]:
    return [
        line
        for path in sorted((data_dir / "log").iterdir())
        if path.suffix in (OPEN_SUFFIX, SEALED_SUFFIX)
        for line in path.read_bytes().split(b"\n")
    ]


def logged_ids(data_dir: Path) -> set[str]:
    """Event ids of the whole records in the log: newline-terminated lines that parse."""
    ids = set()
    for path in (data_dir / "log").iterdir():
        if path.suffix in (OPEN_SUFFIX, SEALED_SUFFIX):
            for line in path.read_bytes().split(b"\n")[:-1]:
                try:
                    ids.add(json.loads(line)["event_id"])
                except ValueError:
                    continue
    return ids


def test_write_key_over_its_rate_gets_429_and_nothing_is_accepted(
    launched: Callable[..., LaunchedApi],
) -> None:
    # 5 events of burst refilled at one per 4 s: a busy machine would need 4 s between the two
    # posts below to refill a token (1 s was once enough on a loaded CI machine).
    api = launched(
        {"MARQUEE_RATE_LIMIT_KEY_EVENTS_PER_S": "0.25", "MARQUEE_RATE_LIMIT_BURST_S": "20"}
    )
    first = [event() for _ in range(5)]
    assert api.post(first).status_code == 202
    over = event()
    response = api.post([over])
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited_write_key"
    assert int(response.headers["Retry-After"]) >= 1
    assert api.post([event()], key="wk_other").status_code == 202  # another key: its own bucket
    time.sleep(int(response.headers["Retry-After"]))
    assert api.post([over]).status_code == 202
    ids = logged_ids(api.data_dir)
    assert {str(e["event_id"]) for e in first} | {str(over["event_id"])} <= ids
    assert len(ids) == 7


def test_write_key_rate_limit_covers_cmcd_reports(launched: Callable[..., LaunchedApi]) -> None:
    # 2 events of burst, refilled at one per 100 s: no refill between the three reports.
    api = launched(
        {"MARQUEE_RATE_LIMIT_KEY_EVENTS_PER_S": "0.01", "MARQUEE_RATE_LIMIT_BURST_S": "200"}
    )
    report = {"CMCD": f'sid="s1",cid="unknown-content",ts={int(time.time() * 1000)}'}
    url = f"{api.url}/v1/cmcd"
    headers = {"X-Write-Key": WRITE_KEY}
    statuses = [httpx.get(url, params=report, headers=headers).status_code for _ in range(3)]
    assert statuses[:2] == [202, 202]
    assert statuses[2] == 429


def test_client_over_its_rate_gets_429_with_cors_headers(
    launched: Callable[..., LaunchedApi],
) -> None:
    # A bucket of 2 requests refilled every 100 s, so even a loaded machine cannot refill it
    # between the posts below (a 2 s refill did, once, in a 35-minute CI run).
    api = launched(
        {"MARQUEE_RATE_LIMIT_CLIENT_REQUESTS_PER_S": "0.01", "MARQUEE_RATE_LIMIT_BURST_S": "200"}
    )
    headers = {"X-Write-Key": WRITE_KEY, "Origin": ORIGIN}
    url = f"{api.url}/v1/events"
    statuses = [httpx.post(url, json=[event()], headers=headers).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    response = httpx.post(url, json=[event()], headers=headers)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited_client"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert httpx.get(f"{api.url}/healthz").status_code == 200  # only /v1/ is limited
    assert len(logged_ids(api.data_dir)) == 2


def test_cors_lets_any_origin_call_the_collector_by_default(api: ApiProcess) -> None:
    preflight = httpx.options(
        f"{api.url}/v1/events",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-write-key,content-encoding",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"x-write-key", "content-type", "content-encoding"} <= set(allowed.split(", "))
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    response = httpx.post(
        f"{api.url}/v1/events", json=[event()], headers={"X-Write-Key": WRITE_KEY, "Origin": ORIGIN}
    )
    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    health = httpx.get(f"{api.url}/healthz", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in health.headers  # not a collector path


def test_cors_allows_only_the_configured_origins(launched: Callable[..., LaunchedApi]) -> None:
    api = launched({"MARQUEE_CORS_ALLOW_ORIGINS": f"{ORIGIN}, https://tv.example"})

    def preflight(origin: str) -> httpx.Response:
        return httpx.options(
            f"{api.url}/v1/events",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )

    allowed = preflight(ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    refused = preflight("https://elsewhere.example")
    assert refused.status_code == 400
    assert "Access-Control-Allow-Origin" not in refused.headers

    def post(origin: str) -> httpx.Response:
        headers = {"X-Write-Key": WRITE_KEY, "Origin": origin}
        return httpx.post(f"{api.url}/v1/events", json=[event()], headers=headers)

    def get_schema(origin: str) -> httpx.Response:  # a route behind the router
        return httpx.get(f"{api.url}/v1/schema/event.json", headers={"Origin": origin})

    for response in (post(ORIGIN), get_schema(ORIGIN)):
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert response.headers["Vary"] == "Origin"
        assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    for response in (post("https://elsewhere.example"), get_schema("https://elsewhere.example")):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert response.headers["Vary"] == "Origin"


def _file_size_limit(limit: int) -> Callable[[], None]:
    """A pre-exec hook: files may not grow past `limit` bytes (a soft limit, so the test
    can lift it later with prlimit)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return apply


def test_log_that_cannot_take_writes_gives_503_and_acknowledges_nothing(
    launched: Callable[..., LaunchedApi],
) -> None:
    api = launched(
        {"MARQUEE_PSEUDONYM_KEY": "test-key"},  # nothing to write at start-up
        args=("--log-level", "info"),
        preexec_fn=_file_size_limit(0),
        ready_path="/healthz",
    )
    response = api.post({"events": [event(), event()]})
    assert response.status_code == 503
    assert response.json()["error"] == "log_unavailable"
    assert int(response.headers["Retry-After"]) >= 1
    headers = {"X-Write-Key": WRITE_KEY, "Content-Type": "application/json"}
    malformed = httpx.post(f"{api.url}/v1/events", content=b"{", headers=headers)
    assert malformed.status_code == 503  # its quarantine record cannot be kept either
    ready = httpx.get(f"{api.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["error"] == "not_ready"
    assert "Retry-After" in ready.headers
    assert httpx.get(f"{api.url}/healthz").status_code == 200
    errors = {
        dict(labels)["code"]: value
        for (name, labels), value in scrape(api).items()
        if name == "marquee_http_errors_total"
    }
    assert errors["log_unavailable"] == 2
    assert [line for line in logged_lines(api.data_dir) if line] == []
    assert "Traceback" not in response.text and "Errno" not in response.text
    stop(api)
    time.sleep(0.2)
    failures = [json.loads(line) for line in api.logs() if "event log unavailable" in line]
    assert failures and "File too large" in failures[0]["exc"]


def test_write_failing_part_way_acknowledges_only_what_is_durable(
    launched: Callable[..., LaunchedApi],
) -> None:
    api = launched(
        {"MARQUEE_PSEUDONYM_KEY": "test-key", "MARQUEE_SEGMENT_MAX_AGE_S": "3600"},
        preexec_fn=_file_size_limit(3000),
    )
    first = event()
    assert api.post([first]).status_code == 202
    batch = [event() for _ in range(20)]  # about 8 KB: the segment file cannot hold it
    response = api.post(batch)
    assert response.status_code == 503
    assert response.json()["error"] == "log_unavailable"
    assert str(first["event_id"]) in logged_ids(api.data_dir)
    # Some records of the refused batch may be stored: the client retries the same event
    # ids and the pipeline deduplicates, so none counts twice.


def test_events_acknowledged_after_a_transient_write_failure_stay_readable(
    launched: Callable[..., LaunchedApi],
) -> None:
    api = launched(
        {"MARQUEE_PSEUDONYM_KEY": "test-key", "MARQUEE_SEGMENT_MAX_AGE_S": "3600"},
        preexec_fn=_file_size_limit(3000),
    )
    assert api.post([event()]).status_code == 202
    assert api.post([event() for _ in range(20)]).status_code == 503
    unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    resource.prlimit(api.process.pid, resource.RLIMIT_FSIZE, unlimited)  # space is back
    after = event()
    assert api.post([after]).status_code == 202
    assert str(after["event_id"]) in logged_ids(api.data_dir)


def test_unhandled_error_is_a_bare_500_and_the_trace_stays_in_the_log(
    launched: Callable[..., LaunchedApi], tmp_path: Path
) -> None:
    config = tmp_path / "log-config.json"
    config.write_text(json.dumps(log_config("info")))
    api = launched(
        command=[
            sys.executable, "-m", "uvicorn", "--factory",
            "tests.support.failing_app:app_with_a_failing_route",
            "--port", "{port}", "--log-config", str(config), "--no-access-log",
        ],
    )  # fmt: skip
    for route in ("/v1/fail", "/v1/events"):
        response = httpx.post(
            f"{api.url}{route}", json=[event()], headers={"X-Write-Key": WRITE_KEY}
        )
        assert response.status_code == 500
        expected = {"error": "internal_error", "detail": "an internal error occurred"}
        assert response.json() == expected
        assert "secret" not in response.text
    assert httpx.get(f"{api.url}/healthz").status_code == 200  # the worker lives on
    errors = {
        (dict(labels)["route"], dict(labels)["code"]): value
        for (name, labels), value in scrape(api).items()
        if name == "marquee_http_errors_total"
    }
    assert errors == {("/v1/fail", "internal_error"): 1, ("/v1/events", "internal_error"): 1}
    stop(api)
    time.sleep(0.2)
    entries = [json.loads(line) for line in api.logs() if "unhandled error" in line]
    assert [entry["route"] for entry in entries] == ["/v1/fail", "/v1/events"]
    for entry in entries:
        assert entry["level"] == "error"
        assert "secret internal detail" in entry["exc"]


def test_unknown_paths_and_methods_answer_json_codes(api: ApiProcess) -> None:
    missing = httpx.get(f"{api.url}/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong_method = httpx.delete(f"{api.url}/v1/events")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    assert wrong_method.headers["Allow"] == "POST"
