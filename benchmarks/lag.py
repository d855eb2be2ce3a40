"""Lag: from an event's append to its minute being queryable in the warehouse, under load.

Starts the demo's processes (`tools.demo.parts`: the API, the pipeline's local loop, the
traffic simulator at the demo's rate and the refresh loop; not the dashboards) on a fresh
data directory, waits for the first published `serving.duckdb`, then posts probe events
while the simulator's traffic flows: each probe is a `play_requested` of a content id of
its own, so its minute row can only come from it. Its append time is when the API answered
202 (the record is durable then). A poller opens `serving.duckdb` read-only every
`POLL_S` and notes when each probe shows up in:

- the minute-level data: `main.stg_pipeline__minute_aggregates_live`, a view over the lake, so a
  probe shows once the pipeline has committed the run that read its segment;
- the daily mart: `main.content_daily_performance`, a table, so a probe shows once a refresh cycle
  (dbt build, Great Expectations, publish) that started after that commit has finished.

It prints p50 and p95 of both lags; a probe never seen before the deadline counts as the
deadline (and the count of such probes is printed), so a stuck stage cannot look fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx

from marquee.layout import DataLayout
from marquee.settings import PROJECT_ROOT
from tools.demo import HOST, DemoOptions, Part, parts, stop_all, wait_until_ready

DEMO_RATE = 200
DEMO_CREATORS = 50
"""The demo's default load (`python -m tools.demo` without options)."""

POLL_S = 0.25
PROBE_GAP_S = 3.0
FIRST_PUBLISH_TIMEOUT_S = 600.0
MINUTE_DEADLINE_S = 120.0
MART_DEADLINE_S = 600.0
WRITE_KEY = "wk_lagbench"
SURFACES = {
    "minute": "main.stg_pipeline__minute_aggregates_live",
    "mart": "main.content_daily_performance",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def probe_event(content_id: str, now_ms: int) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "play_requested",
        "ts": now_ms,
        "viewer_id": "lag-probe",
        "platform": "web",
        "country": "US",
        "creator_id": "cr_lag_probe",
        "content_id": content_id,
        "content_type": "vod",
        "session_id": f"s_{content_id}",
        "seq": 0,
    }


class Poller(threading.Thread):
    """Notes when each probe content id first shows in each surface of serving.duckdb."""

    def __init__(self, serving: Path, prefix: str) -> None:
        super().__init__(daemon=True)
        self.serving = serving
        self.prefix = prefix
        self.seen: dict[str, dict[str, float]] = {surface: {} for surface in SURFACES}
        self.published = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(POLL_S):
            if not self.serving.exists():
                continue
            self.published.set()
            try:
                with duckdb.connect(str(self.serving), read_only=True) as conn:
                    for surface, relation in SURFACES.items():
                        rows = conn.execute(  # relation: one of the constant SURFACES
                            f"select distinct content_id from {relation} "
                            "where starts_with(content_id, ?)",
                            [self.prefix],
                        ).fetchall()
                        now = time.time()
                        for (content_id,) in rows:
                            self.seen[surface].setdefault(content_id, now)
            except duckdb.Error:
                continue  # a snapshot being swapped in, or a view over a file being written


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def start(part: Part, env: dict[str, str], log_dir: Path) -> Part:
    log = (log_dir / f"{part.name}.log").open("wb")
    part.process = subprocess.Popen(
        part.argv,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return part


def parts_env(data_dir: Path, app: str, write_key: str = WRITE_KEY) -> dict[str, str]:
    """The environment of the demo's parts: this data directory and a write key for `app`."""
    return {
        **os.environ,
        "MARQUEE_DATA_DIR": str(data_dir),
        "MARQUEE_WRITE_KEYS": f"{app}:{write_key}",
        "MARQUEE_ADMIN_TOKEN": uuid.uuid4().hex,
        "PYTHONUNBUFFERED": "1",
    }


def start_parts(
    running: list[Part],
    env: dict[str, str],
    data_dir: Path,
    options: DemoOptions,
    write_key: str = WRITE_KEY,
) -> None:
    """Start the demo's parts but the dashboard, appending each to `running` as it starts
    (so the caller stops what did start when a later one fails); wait for the API."""
    for part in parts(write_key, data_dir, options):
        if part.name == "dashboard":
            continue
        running.append(start(part, env, data_dir))
        if part.name == "api":
            wait_until_ready(f"http://{HOST}:{options.api_port}/readyz", part)


def run(probes: int = 20) -> dict[str, float]:
    prefix = f"lagprobe_{uuid.uuid4().hex[:8]}_"
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        layout = DataLayout(data_dir).ensure()
        env = parts_env(data_dir, "lag")
        options = DemoOptions(DEMO_RATE, DEMO_CREATORS, free_port(), free_port(), 60)
        running: list[Part] = []
        poller = Poller(layout.serving_db, prefix)
        try:
            start_parts(running, env, data_dir, options)
            poller.start()
            if not poller.published.wait(FIRST_PUBLISH_TIMEOUT_S):
                tail = (data_dir / "refresh.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"lag: serving.duckdb was never published; refresh said:\n{tail}")
            appended = post_probes(options.api_port, prefix, probes)
            wait_for(poller, appended)
        finally:
            poller.stop.set()
            stop_all(running)
            stop_process_groups(running)
    return summarise(poller, appended)


def stop_process_groups(running: list[Part]) -> None:
    """Kill what the parts started and left behind (a `dbt build` the refresh loop was
    running when it stopped), so the data directory can be removed: each part leads a
    process group of its own."""
    for part in running:
        if part.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(part.process.pid, signal.SIGKILL)


def post_probes(
    api_port: int,
    prefix: str,
    probes: int,
    make_event: Callable[[str, int], dict[str, object]] = probe_event,
    bench: str = "lag",
    write_key: str = WRITE_KEY,
) -> dict[str, float]:
    """Post one probe every PROBE_GAP_S, made by `make_event(content_id, now_ms)`; return
    each probe's 202 time by content id."""
    appended: dict[str, float] = {}
    url = f"http://{HOST}:{api_port}/v1/events"
    with httpx.Client(timeout=30) as client:
        for index in range(probes):
            content_id = f"{prefix}{index:03d}"
            now_ms = int(time.time() * 1000)
            body = {"sent_at": now_ms, "events": [make_event(content_id, now_ms)]}
            answer = client.post(url, json=body, headers={"X-Write-Key": write_key})
            if answer.status_code != 202 or answer.json().get("accepted") != 1:
                raise SystemExit(f"{bench}: probe refused: {answer.status_code} {answer.text}")
            appended[content_id] = time.time()
            time.sleep(PROBE_GAP_S)
    return appended


def wait_for(poller: Poller, appended: dict[str, float]) -> None:
    last = max(appended.values())
    for surface, deadline_s in (("minute", MINUTE_DEADLINE_S), ("mart", MART_DEADLINE_S)):
        while time.time() < last + deadline_s and len(poller.seen[surface]) < len(appended):
            time.sleep(POLL_S)


def summarise(poller: Poller, appended: dict[str, float]) -> dict[str, float]:
    figures: dict[str, float] = {"probes": len(appended)}
    for surface, deadline_s in (("minute", MINUTE_DEADLINE_S), ("mart", MART_DEADLINE_S)):
        seen = poller.seen[surface]
        lags = [seen.get(content, at + deadline_s) - at for content, at in appended.items()]
        figures[f"{surface} lag p50 s"] = percentile(lags, 0.50)
        figures[f"{surface} lag p95 s"] = percentile(lags, 0.95)
        figures[f"{surface} never seen"] = sum(content not in seen for content in appended)
    return figures
