"""Operability of the real API process: health, readiness, metrics, JSON logs, OpenAPI.

Also holds `launch_api`, which the protection and fuzz tests share: like conftest's
`start_api`, plus extra arguments, a custom command, a pre-exec hook and captured stderr.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.specs.openapi.definitions import OPENAPI_31

from marquee.events import EVENT_TYPES
from tests.conftest import APP_ID, REPO_ROOT, WRITE_KEY, ApiProcess, free_port

WRITE_KEYS = f"{APP_ID}:{WRITE_KEY},other_app:wk_other"


@dataclass
class LaunchedApi(ApiProcess):
    stderr_lines: list[str] = field(default_factory=list)

    def logs(self) -> list[str]:
        """Stderr lines so far (complete once the process has stopped)."""
        return list(self.stderr_lines)


def launch_api(
    data_dir: Path,
    env: dict[str, str] | None = None,
    *,
    args: Sequence[str] = ("--log-level", "warning"),
    command: Sequence[str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
    ready_path: str = "/readyz",
) -> LaunchedApi:
    """Start the real API (or `command` with `{port}` filled in) and wait for `ready_path`.

    Stderr goes through a pipe (not a file, so a file-size limit does not apply to it)
    into `stderr_lines`.
    """
    port = free_port()
    full_env = dict(
        os.environ,
        MARQUEE_DATA_DIR=str(data_dir),
        MARQUEE_WRITE_KEYS=WRITE_KEYS,
        MARQUEE_SEGMENT_MAX_AGE_S="0.5",
    )
    full_env.update(env or {})
    if command is None:
        argv = [sys.executable, "-m", "ingestion_api", "--port", str(port), *args]
    else:
        argv = [part.format(port=port) for part in command]
    process = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=full_env, stderr=subprocess.PIPE, preexec_fn=preexec_fn
    )
    url = f"http://127.0.0.1:{port}"
    api = LaunchedApi(url, process, data_dir)
    assert process.stderr is not None
    stream = process.stderr

    def collect() -> None:
        for raw in stream:
            api.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    threading.Thread(target=collect, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            time.sleep(0.2)
            raise RuntimeError(f"API exited with {process.returncode}: {api.logs()[-5:]}")
        try:
            if httpx.get(f"{url}{ready_path}", timeout=1).status_code == 200:
                return api
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("API did not become ready in 30 s")


def stop(api: ApiProcess) -> None:
    if api.process.poll() is None:
        api.process.send_signal(signal.SIGTERM)
        try:
            api.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            api.process.kill()
            api.process.wait()


def event(**overrides: object) -> dict[str, object]:
    record: dict[str, object] = {
        "event_id": str(uuid.uuid4()),
        "type": "play_requested",
        "ts": int(time.time() * 1000),
        "viewer_id": "viewer-raw-id-42",
        "platform": "web",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": "s_1",
    }
    record.update(overrides)
    return record


def scrape(api: ApiProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, keyed by (name, sorted labels)."""
    response = httpx.get(f"{api.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def launched(data_dir: Path) -> Iterator[Callable[..., LaunchedApi]]:
    """Launch API processes for one test; all are stopped at its end."""
    started: list[LaunchedApi] = []

    def launch(*args: object, **kwargs: object) -> LaunchedApi:
        api = launch_api(data_dir, *args, **kwargs)  # type: ignore[arg-type]
        started.append(api)
        return api

    yield launch
    for api in started:
        stop(api)


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
