"""An alert through the real parts: API process -> segment log -> pipeline (local mode) ->
lake -> `python -m alerts` (the shipped default rules) -> a webhook receiver on loopback.

A burst of fatal errors on one live stream (25 views in a minute, each started, then a
fatal error) gives exactly one `firing` notification naming that stream within 120 s of
the events' 202; a stream with only 5 failing views gives none. The evaluator is then
restarted (its state is on disk: no second `firing`), healthy views of the stream follow in
the next minute, and exactly one `resolved` arrives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT
from tests.support.api import ApiProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

FIRING_DEADLINE_S = 120


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every JSON body with when it arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((time.monotonic(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notifications(self) -> list[tuple[float, dict[str, Any]]]:
        with self.lock:
            return list(self.received)

    def wait_for(self, status: str, timeout_s: float) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for arrived, payload in self.notifications():
                if payload["status"] == status:
                    return arrived, payload
            time.sleep(0.2)
        raise AssertionError(f"no {status} notification in {timeout_s} s: {self.notifications()}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()


def start(argv: list[str], data_dir: Path, log: Path, env: dict[str, str]) -> subprocess.Popen:
    full_env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir), **env)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *argv], cwd=REPO_ROOT, env=full_env, stdout=out, stderr=out
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_line(log: Path, text: str, timeout_s: float = 60) -> None:
    """Wait until a child's log says `text` (the evaluator is up), so the measured time is
    the running evaluator's, not its start-up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{log.name} never said {text!r}: {log.read_text(errors='replace')}")


def views(content_id: str, count: int, *, fatal: bool) -> list[dict[str, Any]]:
    """`count` views of a live stream, timed now: requested, started, and (when `fatal`) a
    fatal error, so they count as failed but not as video start failures."""
    now = int(time.time() * 1000)
    events: list[dict[str, Any]] = []
    for index in range(count):
        common = {
            "viewer_id": f"viewer-{uuid.uuid4()}",
            "platform": "web",
            "creator_id": "cr_alerts",
            "content_id": content_id,
            "content_type": "live",
            "session_id": f"{content_id}-{uuid.uuid4()}",
        }
        steps: list[tuple[str, dict[str, Any]]] = [
            ("play_requested", {}),
            ("playback_started", {"startup_ms": 400}),
        ]
        if fatal:
            steps.append(("playback_error", {"code": "MEDIA_ERR_DECODE", "fatal": True}))
        for offset, (type_, fields) in enumerate(steps):
            events.append(
                {"event_id": str(uuid.uuid4()), "type": type_, "ts": now + index + offset,
                 **common, **fields}
            )  # fmt: skip
    return events


def test_a_burst_of_failures_fires_once_and_resolves_once(
    api: ApiProcess, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = api.data_dir
    alerts_env = {"MARQUEE_ALERT_WEBHOOK_URL": receiver.url}
    pipeline = start(
        ["-m", "pipelines", "local", "--interval-s", "1"], data_dir, tmp_path / "pipeline.log", {}
    )
    alerts_log = tmp_path / "alerts.log"
    evaluator = start(["-m", "alerts", "--interval-s", "1"], data_dir, alerts_log, alerts_env)
    try:
        wait_for_line(alerts_log, "notifications to the webhook")
        if time.time() % 60 > 45:  # the burst and its 202 within one minute
            time.sleep(61 - time.time() % 60)
        burst_minute = int(time.time() // 60)
        response = api.post({"events": views("live_burst", 25, fatal=True)})
        small = api.post({"events": views("live_small", 5, fatal=True)})
        accepted_at = time.monotonic()
        assert response.status_code == 202 and small.status_code == 202
        assert response.json()["rejected"] == [] and small.json()["rejected"] == []

        arrived, firing = receiver.wait_for("firing", FIRING_DEADLINE_S)
        firing_after_s = arrived - accepted_at
        print(f"firing notification {firing_after_s:.1f} s after the 202")
        assert firing_after_s < FIRING_DEADLINE_S
        assert firing["scope"] == "content" and firing["scope_value"] == "live_burst"
        assert firing["rule"] == "playback_failures"
        assert "live_burst" in firing["text"] and firing["value"] == pytest.approx(100.0)
        assert firing["views"] == 25

        stop(evaluator)  # a restart must not notify the firing alert again
        evaluator = start(["-m", "alerts", "--interval-s", "1"], data_dir, alerts_log, alerts_env)

        wait_s = (burst_minute + 1) * 60 + 1 - time.time()
        if wait_s > 0:  # healthy views in the next minute
            time.sleep(wait_s)
        healthy = api.post({"events": views("live_burst", 25, fatal=False)})
        assert healthy.status_code == 202
        _, resolved = receiver.wait_for("resolved", 90)
        assert resolved["scope_value"] == "live_burst"
        assert resolved["alert_id"] == firing["alert_id"]
        time.sleep(5)  # anything else would arrive within the next evaluations
    finally:
        stop(evaluator)
        stop(pipeline)
    logs = alerts_log.read_text(errors="replace")
    received = [payload for _, payload in receiver.notifications()]
    assert [(n["status"], n["scope_value"]) for n in received] == [
        ("firing", "live_burst"),
        ("resolved", "live_burst"),
    ], logs[-3000:]
    assert "live_small" not in json.dumps(received)
    history = (data_dir / "alerts" / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["status"] for line in history] == ["firing", "resolved"]
