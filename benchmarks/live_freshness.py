"""Live freshness: from an event's 202 to its minute in what the Live now page reads.

Starts the demo's processes (`marquee.demo.parts`: the API, the pipeline's local loop every
2 s, the simulator at the demo's default rate and the refresh loop; not the Streamlit server)
on a fresh data directory, waits for the pipeline's first committed run, then posts probe
events while the simulator's traffic flows. Each probe is a `play_requested` of a live
stream of its own (`benchmarks.lag.probe_event` with content type `live`), so the stream is
on air from its first event and its minute row can only come from the probe. Its append time
is when the API answered 202.

Two pollers note when each probe first shows:

- the page: the Live now page's own data function (`dashboards.queries.live_now.live_now`,
  the newest RUNS_READ committed runs read through `dashboards.lake`, as the page's fragment
  does at each refresh), called every PAGE_POLL_S; a probe counts when its stream and its
  event's minute are among the rows;
- the baseline, the lake itself: every LAKE_POLL_S the run files committed since the last
  look are opened one by one for the probe ids (`pipeline_status.json`'s last run). This is
  the pipeline's share of the lag; page / lake is what the page's reading adds (its polling
  interval, the query over the newest runs, the cache).

The page's refresh interval (the fragment's `run_every`, 5 s) is not added: a browser shows
what the data function returns at its next refresh, up to REFRESH_S later. Prints p50 and
p95 of both lags, their ratio and the data function's own time; a probe never seen before
the deadline counts as the deadline, so a stuck stage cannot look fast.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from benchmarks.lag import (
    DEMO_CREATORS,
    DEMO_RATE,
    free_port,
    percentile,
    probe_event,
    start,
    stop_process_groups,
)
from marquee.demo import HOST, DemoOptions, Part, parts, stop_all, wait_until_ready
from marquee.lake import MINUTE_AGGREGATES
from marquee.layout import DataLayout
from marquee.settings import get_settings

PAGE_POLL_S = 0.5
LAKE_POLL_S = 0.1
PROBE_GAP_S = 3.0
FIRST_RUN_TIMEOUT_S = 300.0
DEADLINE_S = 60.0
WRITE_KEY = "wk_livebench"
PROBE_CREATOR = "cr_live_probe"


def live_probe(content_id: str, now_ms: int) -> dict[str, object]:
    """A play request of a live stream of its own: on air from this one event."""
    return {**probe_event(content_id, now_ms), "content_type": "live", "creator_id": PROBE_CREATOR}


class PagePoller(threading.Thread):
    """Calls the Live now page's data function and notes when each probe's minute shows."""

    def __init__(self, prefix: str) -> None:
        super().__init__(daemon=True)
        self.prefix = prefix
        self.minute_of: dict[str, int] = {}
        self.seen: dict[str, float] = {}
        self.call_s: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from dashboards.queries import live_now

        while not self.stop.wait(PAGE_POLL_S):
            started = time.time()
            live = live_now.live_now(None, int(started * 1000))
            now = time.time()
            self.call_s.append(now - started)
            rows = live.minutes
            if rows.empty:
                continue
            probes = rows[rows["content_id"].str.startswith(self.prefix)]
            for content_id, minute in zip(
                probes["content_id"], probes["epoch_minute"], strict=True
            ):
                if self.minute_of.get(content_id) == int(minute):
                    self.seen.setdefault(content_id, now)


class LakePoller(threading.Thread):
    """Opens each newly committed minute file once and notes the probes in it."""

    def __init__(self, layout: DataLayout, prefix: str) -> None:
        super().__init__(daemon=True)
        self.layout = layout
        self.prefix = prefix
        self.seen: dict[str, float] = {}
        self.first_run = threading.Event()
        self.stop = threading.Event()
        self.read_up_to = 0

    def run(self) -> None:
        from dashboards import lake

        while not self.stop.wait(LAKE_POLL_S):
            committed = lake.pipeline_status().last_run_id
            if committed is None:
                continue
            self.first_run.set()
            table_dir = self.layout.lake_table_dir(MINUTE_AGGREGATES)
            for run_id in range(self.read_up_to + 1, committed + 1):
                path = table_dir / f"run-{run_id:012d}.parquet"
                if path.exists():
                    ids = pq.read_table(path, columns=["content_id"]).column(0).to_pylist()
                    now = time.time()
                    for content_id in ids:
                        if content_id.startswith(self.prefix):
                            self.seen.setdefault(content_id, now)
            self.read_up_to = committed


def post_probes(api_port: int, prefix: str, probes: int, page: PagePoller) -> dict[str, float]:
    """Post one live probe every PROBE_GAP_S; return each probe's 202 time by content id."""
    appended: dict[str, float] = {}
    url = f"http://{HOST}:{api_port}/v1/events"
    with httpx.Client(timeout=30) as client:
        for index in range(probes):
            content_id = f"{prefix}{index:03d}"
            now_ms = int(time.time() * 1000)
            page.minute_of[content_id] = now_ms // 60_000
            body = {"sent_at": now_ms, "events": [live_probe(content_id, now_ms)]}
            answer = client.post(url, json=body, headers={"X-Write-Key": WRITE_KEY})
            if answer.status_code != 202 or answer.json().get("accepted") != 1:
                raise SystemExit(f"live: probe refused: {answer.status_code} {answer.text}")
            appended[content_id] = time.time()
            time.sleep(PROBE_GAP_S)
    return appended


def run(probes: int = 20) -> dict[str, float]:
    prefix = f"liveprobe_{uuid.uuid4().hex[:8]}_"
    previous_data_dir = os.environ.get("MARQUEE_DATA_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        layout = DataLayout(data_dir).ensure()
        env = {
            **os.environ,
            "MARQUEE_DATA_DIR": str(data_dir),
            "MARQUEE_WRITE_KEYS": f"live:{WRITE_KEY}",
            "MARQUEE_ADMIN_TOKEN": uuid.uuid4().hex,
            "PYTHONUNBUFFERED": "1",
        }
        # The pollers run the dashboards' code in this process, against the same directory.
        os.environ["MARQUEE_DATA_DIR"] = str(data_dir)
        get_settings.cache_clear()
        options = DemoOptions(DEMO_RATE, DEMO_CREATORS, free_port(), free_port(), 60)
        running: list[Part] = []
        page = PagePoller(prefix)
        lake_poller = LakePoller(layout, prefix)
        try:
            for part in parts(WRITE_KEY, data_dir, options):
                if part.name == "dashboard":
                    continue
                running.append(start(part, env, data_dir))
                if part.name == "api":
                    wait_until_ready(f"http://{HOST}:{options.api_port}/readyz", part)
            lake_poller.start()
            if not lake_poller.first_run.wait(FIRST_RUN_TIMEOUT_S):
                tail = (data_dir / "pipeline.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"live: the pipeline never committed a run:\n{tail}")
            page.start()
            appended = post_probes(options.api_port, prefix, probes, page)
            last = max(appended.values())
            while time.time() < last + DEADLINE_S and (
                len(page.seen) < len(appended) or len(lake_poller.seen) < len(appended)
            ):
                time.sleep(PAGE_POLL_S)
        finally:
            page.stop.set()
            lake_poller.stop.set()
            stop_all(running)
            stop_process_groups(running)
            if previous_data_dir is None:
                os.environ.pop("MARQUEE_DATA_DIR", None)
            else:
                os.environ["MARQUEE_DATA_DIR"] = previous_data_dir
            get_settings.cache_clear()
    return summarise(page, lake_poller, appended)


def summarise(
    page: PagePoller, lake_poller: LakePoller, appended: dict[str, float]
) -> dict[str, float]:
    def lags(seen: dict[str, float]) -> list[float]:
        return [seen.get(content, at + DEADLINE_S) - at for content, at in appended.items()]

    page_lags, lake_lags = lags(page.seen), lags(lake_poller.seen)
    figures: dict[str, float] = {
        "probes": len(appended),
        "page lag p50 s": percentile(page_lags, 0.50),
        "page lag p95 s": percentile(page_lags, 0.95),
        "page never seen": sum(content not in page.seen for content in appended),
        "lake (baseline) lag p50 s": percentile(lake_lags, 0.50),
        "lake (baseline) lag p95 s": percentile(lake_lags, 0.95),
        "page / lake p95": percentile(page_lags, 0.95) / percentile(lake_lags, 0.95),
    }
    if page.call_s:
        figures["page data call p50 s"] = percentile(page.call_s, 0.50)
        figures["page data call p95 s"] = percentile(page.call_s, 0.95)
    return figures
