"""The simulator's sender and command line against a small real HTTP server on 127.0.0.1
that answers like the ingestion API and validates events with the real contract."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest

from marquee.events import EventRejected, decode_event
from tests.support import REPO_ROOT
from tools.simulator import INVALID_MARKER, FaultRates
from tools.simulator.clock import MINUTE_MS
from tools.simulator.sender import Sender
from tools.simulator.stream import TrafficStream

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000
T0 = (time.time_ns() // 1_000_000 // DAY_MS - 1) * DAY_MS + 51_200_000
"""Yesterday at 14:13:20 UTC: relative to the run's date, at a fixed time of day (traffic
follows the hour)."""


def sent_at_ms(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class Collector(ThreadingHTTPServer):
    """Answers like the ingestion API; `script` holds statuses to answer first (e.g. 503)."""

    write_key = "wk_sim_test"

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CollectorHandler)
        self.script: list[int] = []
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class CollectorHandler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        payload = json.loads(body)
        with self.server.lock:
            self.server.requests.append((dict(self.headers), payload))
            status = self.server.script.pop(0) if self.server.script else None
        if self.path != "/v1/events":
            return self.answer(404, {"error": "not_found"})
        if self.headers.get("X-Write-Key") != self.server.write_key:
            return self.answer(401, {"error": "unknown_write_key"})
        if status is not None:
            return self.answer(status, {"error": "log_unavailable"}, {"Retry-After": "0"})
        rejected = []
        for index, event in enumerate(payload["events"]):
            try:
                decode_event(msgspec.json.encode(event))
            except EventRejected as exc:
                rejected.append({"index": index, "reason": exc.reason.value})
        accepted = len(payload["events"]) - len(rejected)
        self.answer(202, {"accepted": accepted, "rejected": rejected})

    def answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_sender_retries_a_503_with_the_same_event_ids(collector: Collector) -> None:
    sim = TrafficStream(seed=9, creators=10, rate=50, warmup_s=0, faults=FaultRates(0, 0, 0.05))
    events = sim.events_between(T0, T0 + MINUTE_MS)
    batches = [events[i : i + 100] for i in range(0, 300, 100)]
    collector.script = [503]
    sender = Sender(collector.url, collector.write_key, backoff_s=0.01)
    try:
        results = [sender.send(batch) for batch in batches]
    finally:
        sender.close()

    assert [r.attempts for r in results] == [2, 1, 1]
    first, retry = collector.requests[0][1], collector.requests[1][1]
    # .get: an invalid event the simulator broke may lack its id (the same in both)
    assert [e.get("event_id") for e in retry["events"]] == [e.get("event_id") for e in batches[0]]
    assert first["events"] == retry["events"]
    for headers, payload in collector.requests:
        assert headers["X-Write-Key"] == collector.write_key
        assert payload["sent_at"].endswith("Z") and sent_at_ms(payload["sent_at"]) > T0
    invalid = sum(INVALID_MARKER in e for batch in batches for e in batch)
    stats = sender.stats()
    assert invalid > 0
    assert (stats.sent, stats.rejected, stats.retries) == (300, invalid, 1)
    assert stats.accepted == 300 - invalid and stats.failed == 0
    assert sum(stats.reasons.values()) == invalid


def test_sender_gives_up_at_once_on_a_refused_write_key(collector: Collector) -> None:
    sender = Sender(collector.url, "wk_wrong", backoff_s=0.01, compress=True)
    sim = TrafficStream(seed=9, creators=5, rate=20, warmup_s=0)
    try:
        result = sender.send(sim.events_between(T0, T0 + 10_000))
    finally:
        sender.close()
    assert result.status == 401 and result.attempts == 1 and not result.ok
    assert sender.stats().failed == sender.stats().sent > 0


def test_cli_runs_until_ctrl_c_then_prints_a_summary(collector: Collector, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    command = [
        sys.executable, "-m", "tools.simulator", "--url", collector.url,
        "--write-key", collector.write_key, "--rate", "100", "--creators", "5",
        "--warmup-s", "30", "--catalog-dir", str(catalog), "--progress-s", "0.5",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("[") and " sent " in line and " sent 0 " not in line:
                break
        process.send_signal(signal.SIGINT)
        rest, errors = process.communicate(timeout=30)
    finally:
        process.kill()
    output = "".join(lines) + rest
    assert process.returncode == 0, errors
    assert "summary after" in output and "accepted" in output, output
    assert (catalog / "creators.json").is_file() and (catalog / "content.json").is_file()
    creators = json.loads((catalog / "creators.json").read_text())
    content = json.loads((catalog / "content.json").read_text())
    assert len(creators) == 5 and content
    assert not [p for p in catalog.iterdir() if p.name.endswith(".tmp")]
    posted = [e for _, payload in collector.requests for e in payload["events"]]
    assert posted and {e["creator_id"] for e in posted if "creator_id" in e} <= {
        c["creator_id"] for c in creators
    }
