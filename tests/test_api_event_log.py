"""The real API process with each kind of event log URL: the segment log where a file URL
points, a refusal to start on a bad URL, and 503 with nothing acknowledged when the Kafka
broker is unreachable. The URL forms themselves are in test_event_log_url.py, the brokers'
clients in test_publishers.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from marquee.eventlog.segments import SEALED_SUFFIX, iter_records, sealed_segments
from tests.support import REPO_ROOT
from tests.support.api import event, free_port, start_api

pytestmark = pytest.mark.integration


def test_api_writes_the_segment_log_where_the_file_url_points(
    data_dir: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    server = start_api(data_dir, {"MARQUEE_EVENT_LOG_URL": f"file://{elsewhere}"})
    event_ids = [str(uuid.uuid4()) for _ in range(3)]
    try:
        events = [
            {
                "event_id": event_id,
                "type": "play_requested",
                "ts": int(time.time() * 1000),
                "viewer_id": "v1",
                "platform": "web",
                "creator_id": "cr_1",
                "content_id": "vod_1",
                "content_type": "vod",
                "session_id": "s_1",
            }
            for event_id in event_ids
        ]
        assert server.post({"events": events}).status_code == 202
    finally:
        server.stop()
    segments = sealed_segments(elsewhere)
    assert segments and all(path.suffix == SEALED_SUFFIX for path in segments)
    logged = [json.loads(record) for path in segments for record in iter_records(path)]
    assert sorted(record["event_id"] for record in logged) == sorted(event_ids)
    assert list((data_dir / "log").iterdir()) == []


def test_api_refuses_to_start_with_a_bad_url(data_dir: Path) -> None:
    env = dict(os.environ, MARQUEE_EVENT_LOG_URL="kafak://broker:9092/events")
    completed = subprocess.run(
        [sys.executable, "-m", "ingestion_api", "--port", str(free_port())],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode != 0
    assert "MARQUEE_EVENT_LOG_URL: event log URL kafak://" in completed.stderr
    assert "unsupported scheme 'kafak'" in completed.stderr
    assert "kafka://host:port" in completed.stderr


def test_api_answers_503_and_acknowledges_nothing_when_kafka_is_down(data_dir: Path) -> None:
    """The real API process with a real producer whose broker is unreachable."""
    url = f"kafka://127.0.0.1:{free_port()}/events?delivery_timeout_ms=300"
    server = start_api(data_dir, {"MARQUEE_EVENT_LOG_URL": url})
    try:
        response = server.post({"events": [event()]})
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert response.json()["error"] == "log_unavailable"
    finally:
        server.stop()
    assert list((data_dir / "log").iterdir()) == []
