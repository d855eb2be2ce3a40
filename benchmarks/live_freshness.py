"""Live freshness: from an event's 202 to its minute in what the Live now page reads.

Starts the demo's processes (`tools.demo.parts`: the API, the pipeline's local loop every
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

A demo that has run for an hour has RUNS_READ runs in the page's window, which a benchmark of
a few minutes does not reach; `window_cost` therefore builds a lake of RUNS_READ synthetic
runs with the rows per run of each table (and the live streams' share of the minute rows)
measured in this run's lake, and times the data function there: the first call (every file
read), a refresh after one more run, and a cached rerun.

A browser shows what the data function returns at the page's next refresh (the fragment's
`run_every`, REFRESH_S): the "browser" figures add, to each probe's page lag, the wait for the
next refresh of a session opened at any moment (PHASES evenly spaced openings per probe).
Prints p50 and p95 of the lags, the page's over the lake's and the data function's own time;
a probe never seen before the deadline counts as the deadline, so a stuck stage cannot look fast.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks import lag
from benchmarks.lag import (
    DEMO_CREATORS,
    DEMO_RATE,
    free_port,
    parts_env,
    percentile,
    probe_event,
    start_parts,
    stop_process_groups,
)
from dashboards import lake
from dashboards.lake import RUNS_READ
from dashboards.queries import live_now
from marquee.lake import (
    LAKE_TABLES,
    LIVE_VIEWER_FACTS,
    MINUTE_AGGREGATES,
    TIP_MINUTE_AGGREGATES,
    ensure_lake,
)
from marquee.layout import DataLayout
from marquee.settings import get_settings
from tools.demo import DemoOptions, Part, stop_all

PAGE_POLL_S = 0.5
LAKE_POLL_S = 0.1
PHASES = 30
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
        self.started_at = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        self.started_at = time.time()
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
    """Post one live probe every lag.PROBE_GAP_S, telling the page poller the minute it falls
    in; return each probe's 202 time by content id."""

    def make_event(content_id: str, now_ms: int) -> dict[str, object]:
        page.minute_of[content_id] = now_ms // 60_000
        return live_probe(content_id, now_ms)

    return lag.post_probes(api_port, prefix, probes, make_event, bench="live", write_key=WRITE_KEY)


def run(probes: int = 20) -> dict[str, float]:
    prefix = f"liveprobe_{uuid.uuid4().hex[:8]}_"
    previous_data_dir = os.environ.get("MARQUEE_DATA_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        layout = DataLayout(data_dir).ensure()
        env = parts_env(data_dir, "live", WRITE_KEY)
        # The pollers run the dashboards' code in this process, against the same directory.
        os.environ["MARQUEE_DATA_DIR"] = str(data_dir)
        get_settings.cache_clear()
        options = DemoOptions(DEMO_RATE, DEMO_CREATORS, free_port(), free_port(), 60)
        running: list[Part] = []
        page = PagePoller(prefix)
        lake_poller = LakePoller(layout, prefix)
        try:
            start_parts(running, env, data_dir, options, WRITE_KEY)
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
            shape = lake_shape(layout)
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
    return {**summarise(page, lake_poller, appended), **window_cost(shape)}


def lake_shape(layout: DataLayout) -> dict[str, float]:
    """Mean rows per run file of the tables the page reads, and the live share of the
    minute rows, over the runs committed so far."""
    shape: dict[str, float] = {}
    with duckdb.connect() as con:
        runs = len(list(layout.lake_table_dir(MINUTE_AGGREGATES).glob("run-*.parquet")))
        for table in (MINUTE_AGGREGATES, LIVE_VIEWER_FACTS, TIP_MINUTE_AGGREGATES):
            files = sorted(str(path) for path in layout.lake_table_dir(table).glob("run-*.parquet"))
            rows = sum(pq.read_metadata(path).num_rows for path in files)
            shape[table] = rows / max(1, runs)
        minute_files = str(layout.lake_table_dir(MINUTE_AGGREGATES) / "run-*.parquet")
        row = con.execute(
            "select avg((content_type = 'live')::int) from read_parquet(?)", [minute_files]
        ).fetchone()
        shape["live share"] = float(row[0] or 0.0) if row else 0.0
    return shape


def write_synthetic_runs(
    layout: DataLayout, first: int, last: int, shape: dict[str, float]
) -> None:
    """Runs first..last, each with the rows per table of `shape`, over the last hour."""
    rng = random.Random(first)
    now_minute = int(time.time()) // 60
    contents = [(f"c{index}", f"cr{index % DEMO_CREATORS}") for index in range(1_000)]
    for run_id in range(first, last + 1):
        minute = now_minute - 60 + 60 * run_id // RUNS_READ
        for table in (MINUTE_AGGREGATES, LIVE_VIEWER_FACTS, TIP_MINUTE_AGGREGATES):
            count = int(shape[table]) + (rng.random() < shape[table] % 1)
            if count == 0 and table != MINUTE_AGGREGATES:
                continue  # the pipeline writes those tables only for runs with rows
            schema = LAKE_TABLES[table]
            columns: dict[str, list[object]] = {name: [] for name in schema.names}
            for _ in range(count):
                content, creator = rng.choice(contents)
                live = rng.random() < shape["live share"]
                values: dict[str, object] = {
                    "epoch_minute": minute, "content_id": content, "live_id": content,
                    "creator_id": creator, "content_type": "live" if live else "vod",
                    "platform": "web", "country": "US", "viewer_key": f"v{rng.randrange(5000)}",
                    "fact": "chatted", "at_ms": minute * 60_000 + rng.randrange(60_000),
                    "currency": "EUR", "run_id": run_id, "processed_at_ms": 0,
                }  # fmt: skip
                for name in schema.names:
                    columns[name].append(values.get(name, rng.randrange(3_000)))
            path = layout.lake_table_dir(table) / f"run-{run_id:012d}.parquet"
            pq.write_table(pa.table(columns, schema=schema), path)  # no fsync: scratch data
    status = {"last_run_id": last, "last_commit_at_ms": int(time.time() * 1000)}
    layout.pipeline_status.write_text(json.dumps(status))


def window_cost(shape: dict[str, float]) -> dict[str, float]:
    """The page's data function over a full window of RUNS_READ runs shaped like the demo's."""
    previous_data_dir = os.environ.get("MARQUEE_DATA_DIR")
    with tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp)).ensure()
        ensure_lake(layout)
        write_synthetic_runs(layout, 1, RUNS_READ, shape)
        os.environ["MARQUEE_DATA_DIR"] = tmp
        get_settings.cache_clear()
        try:
            timings: dict[str, float] = {
                "window: minute rows per run": shape[MINUTE_AGGREGATES],
                "window: runs": RUNS_READ,
            }
            for name, new_run in (
                ("first open", False),
                ("after a new run", True),
                ("cached", False),
            ):
                if new_run:
                    write_synthetic_runs(layout, RUNS_READ + 1, RUNS_READ + 1, shape)
                started = time.perf_counter()
                live_now.live_now(None, int(time.time() * 1000))
                timings[f"window: data call, {name} s"] = time.perf_counter() - started
        finally:
            if previous_data_dir is None:
                os.environ.pop("MARQUEE_DATA_DIR", None)
            else:
                os.environ["MARQUEE_DATA_DIR"] = previous_data_dir
            get_settings.cache_clear()
    return timings


def summarise(
    page: PagePoller, lake_poller: LakePoller, appended: dict[str, float]
) -> dict[str, float]:
    def lags(seen: dict[str, float]) -> list[float]:
        return [seen.get(content, at + DEADLINE_S) - at for content, at in appended.items()]

    page_lags, lake_lags = lags(page.seen), lags(lake_poller.seen)
    # A session refreshes every REFRESH_S from whenever it was opened: pool each probe's
    # page lag plus the wait for the next refresh over PHASES evenly spaced opening times
    # (one fixed session would see every probe at the same phase when probes are posted at
    # a multiple of the refresh interval).
    browser_lags = [
        lag + (-(lag - phase) % live_now.REFRESH_S)
        for lag in page_lags
        for phase in (live_now.REFRESH_S * k / PHASES for k in range(PHASES))
    ]
    figures: dict[str, float] = {
        "probes": len(appended),
        "page lag p50 s": percentile(page_lags, 0.50),
        "page lag p95 s": percentile(page_lags, 0.95),
        "page never seen": sum(content not in page.seen for content in appended),
        f"browser ({live_now.REFRESH_S} s refresh) lag p50 s": percentile(browser_lags, 0.50),
        f"browser ({live_now.REFRESH_S} s refresh) lag p95 s": percentile(browser_lags, 0.95),
        "lake (baseline) lag p50 s": percentile(lake_lags, 0.50),
        "lake (baseline) lag p95 s": percentile(lake_lags, 0.95),
        "page / lake p95": percentile(page_lags, 0.95) / percentile(lake_lags, 0.95),
    }
    if page.call_s:
        figures["page data call p50 s"] = percentile(page.call_s, 0.50)
        figures["page data call p95 s"] = percentile(page.call_s, 0.95)
    return figures
