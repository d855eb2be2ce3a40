"""QoE by app version, OS and device: normalised in the pipeline, carried through the lake
into `views`, and broken down (with every other dimension) in the per-day and per-minute
QoE marts, which fold values outside the day's top values into `other`.

The golden part posts its own views through the real API process, runs the pipeline's
local mode twice (the later events of one view in the first run, its first event in the
second), and builds the marts with dbt, with the top values cut to 2 so that the fold
shows on a handful of views. All times are relative to now.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import fakesnow
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.lake import (
    LAKE_TABLES,
    VIEW_ADDED_ATTRIBUTES,
    VIEW_SUMMARIES,
    ensure_lake,
    write_table_atomically,
)
from marquee.layout import DataLayout
from pipelines import dimensions, records, views
from pipelines.sinks.snowflake import (
    SnowflakeSink,
    create_table_sql,
    identifier,
    lake_run_tables,
)
from pipelines.streaming import RecordsToPartials
from refresh.dbt_cli import run_dbt_build
from tests.support import REPO_ROOT
from tests.support.api import APP_ID, WRITE_KEY, start_api
from tests.support.lake_rows import view_partial
from tools.simulator import INVALID_MARKER
from tools.simulator.stream import TrafficStream
from tools.simulator.vector import population

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000
TOP_VALUES = 2
"""The marts' top values per day and dimension in the golden build (default 20)."""


# ---- Normalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("iOS 17.6.1", "iOS 17"),
        ("iOS 17.2", "iOS 17"),
        ("iPhone OS 17_5 like Mac OS X", "iOS 17"),
        ("ios17", "iOS 17"),
        ("iPadOS 18.1", "iPadOS 18"),
        ("Android 14", "Android 14"),
        (" android   14.0 ", "Android 14"),
        ("Android TV 12", "Android TV 12"),
        ("Mac OS X 10_15_7", "macOS 10"),
        ("Windows NT 10.0", "Windows 10"),
        ("tvOS 18.1", "tvOS 18"),
        ("Tizen 8.0", "Tizen 8"),
        ("Linux", "Linux"),
        ("Ubuntu 22.04", "Linux"),
        ("Android", "Android"),
        ("Android 20240101", "Android"),
        ("iosomething", "other"),
        ("BlackBerry 10", "other"),
        ("", "unknown"),
        ("   ", "unknown"),
        ("Unknown", "unknown"),
        (None, "unknown"),
    ],
)
def test_os_is_a_known_family_and_its_major_version(raw: str | None, expected: str) -> None:
    assert dimensions.normalise_os(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5.4.1", "5.4"),
        ("5.4.0 (5521)", "5.4"),
        ("5.3.0-beta", "5.3"),
        ("v6", "6.0"),
        ("Version 7.1", "7.1"),
        ("5.04", "5.4"),
        ("2026.11.2", "2026.11"),
        ("beta", "other"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_app_version_is_its_leading_major_and_minor(raw: str | None, expected: str) -> None:
    assert dimensions.normalise_app_version(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Pixel 8", "pixel 8"),
        ("  pixel\t 8 ", "pixel 8"),
        ("iPhone15,2", "iphone15,2"),
        ("x" * 256, "x" * dimensions.DEVICE_MAX_CHARS),
        ("null", "unknown"),
        (None, "unknown"),
    ],
)
def test_device_is_trimmed_case_folded_and_capped(raw: str | None, expected: str) -> None:
    assert dimensions.normalise_device(raw) == expected


@given(st.one_of(st.none(), st.text(max_size=300)))
def test_normalising_twice_changes_nothing(raw: str | None) -> None:
    """The view merge normalises partials that may already be normalised."""
    for normalise in dimensions.NORMALISERS.values():
        once = normalise(raw)
        assert normalise(once) == once


def test_a_log_column_is_normalised_value_by_value() -> None:
    raw = pl.Series("os", ["iOS 17.6.1", None, "android 14", "iOS 17.2", "iOS 17.6.1"])
    assert dimensions.normalised(raw).to_list() == [
        "iOS 17",
        "unknown",
        "Android 14",
        "iOS 17",
        "iOS 17",
    ]


# ---- The simulator's and the history's players ------------------------------------------

OS_FAMILIES = {
    "web": {"Windows", "macOS", "ChromeOS", "Linux"},
    "ios": {"iOS", "iPadOS"},
    "android": {"Android"},
    "tv": {"tvOS", "Tizen", "webOS", "Android TV", "Roku OS", "Fire OS"},
}


def os_family(normalised: str) -> str:
    return normalised.rsplit(" ", 1)[0] if normalised[-1].isdigit() else normalised


def test_simulated_players_send_their_platforms_app_version_os_and_device() -> None:
    """Every player event of the simulator names an app version, OS and device, of its
    platform's families; together more devices than the marts' default top 20, so the
    demo shows the fold."""
    simulator = TrafficStream(seed=5, creators=20, rate=40, warmup_s=60)
    start = scenario_start_ms()
    events = [
        event
        for event in simulator.events_between(start, start + 120_000)
        if "session_id" in event and INVALID_MARKER not in event  # not the deliberate faults
    ]
    assert len(events) > 500
    devices = set()
    for event in events:
        family = os_family(dimensions.normalise_os(event["os"]))
        assert family in OS_FAMILIES[event["platform"]], event
        assert dimensions.normalise_app_version(event["app_version"]) not in {"other", "unknown"}
        devices.add(dimensions.normalise_device(event["device"]))
    assert len(devices) > 20


def test_the_history_generators_viewers_send_them_too() -> None:
    """The vectorised history engine draws each viewer's envelope from the same tables."""
    envelopes = [json.loads("{" + text[1:] + "}") for text in population.viewers(5, 5_000).envelope]
    for envelope in envelopes:
        family = os_family(dimensions.normalise_os(envelope["os"]))
        assert family in OS_FAMILIES[envelope["platform"]], envelope
        assert dimensions.normalise_app_version(envelope["app_version"]) not in {"other", "unknown"}
    assert len({dimensions.normalise_device(e["device"]) for e in envelopes}) > 20


# ---- The scenario ------------------------------------------------------------------------


def scenario_start_ms() -> int:
    """The top of the hour three to four hours ago: every view of the scenario starts
    within minutes of it, so all share one UTC day, well inside the ingestion horizon."""
    now_ms = int(time.time() * 1000)
    return (now_ms - 3 * HOUR_MS) // HOUR_MS * HOUR_MS


ENVELOPES = {
    "s1": ("v1", "ios", "DE", "5.4.1", "iOS 17.6.1", "iPhone15,2"),
    "s2": ("v1", "ios", "DE", "5.4.0 (5521)", "iOS 17.2", "iPhone15,2"),
    "s3": ("v3", "android", "DE", "5.3.2", "Android 14", "Pixel 8"),
    "s4": ("v4", "android", "DE", "5.3.0", "android 14.0", " pixel 8 "),
    "s5": ("v2", "ios", "DE", "5.4.1", "iOS 17.6.1", "iPhone15,2"),
    "s6": ("v6", "android", "DE", "5.3.0", "Android 14", "SM-S918B"),
    "s7": ("v7", "tv", "US", "3.2.0", "tvOS 18.1", "AppleTV14,1"),
}
"""session -> (viewer, platform, country, raw app_version, os, device) of its events."""

NORMALISED = {
    "s1": ("5.4", "iOS 17", "iphone15,2"),
    "s2": ("5.4", "iOS 17", "iphone15,2"),
    "s3": ("5.3", "Android 14", "pixel 8"),
    "s4": ("5.3", "Android 14", "pixel 8"),
    "s5": ("5.4", "iOS 17", "iphone15,2"),
    "s6": ("5.3", "Android 14", "sm-s918b"),
    "s7": ("3.2", "tvOS 18", "appletv14,1"),
}


def scenario_event(session: str, type_: str, at_ms: int, **fields: Any) -> dict[str, Any]:
    viewer, platform, country, app_version, os_name, device = ENVELOPES[session]
    live = session == "s7"
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "ts": at_ms,
        "viewer_id": viewer,
        "platform": platform,
        "country": country,
        "app_version": app_version,
        "os": os_name,
        "device": device,
        "creator_id": "cr_q",
        "content_id": "live_q" if live else "vod_q",
        "content_type": "live" if live else "vod",
        "session_id": session,
    }
    event.update(fields)
    return event


def s5_later_events(t0: int) -> list[dict[str, Any]]:
    """s5's events after its first: the app was updated to 5.5.0 mid-view."""
    updated = {"app_version": "5.5.0"}
    return [
        scenario_event("s5", "playback_started", t0 + 121_000, startup_ms=800, **updated),
        scenario_event("s5", "playback_ended", t0 + 126_000, reason="completed",
                       played_ms=4_000, bitrate_kbps=1_000, **updated),
    ]  # fmt: skip


def other_events(t0: int) -> list[dict[str, Any]]:
    """Every other event: s5's first, and views s1-s4, s6, s7 (minutes 0 to 3)."""
    e = scenario_event
    return [
        e("s5", "play_requested", t0 + 120_000),
        # minute 0: two iOS 17 views of one viewer; s1 stalls once and completes
        e("s1", "play_requested", t0),
        e("s1", "playback_started", t0 + 1_000, startup_ms=400),
        e("s1", "heartbeat", t0 + 21_000, played_ms=20_000, stalled_ms=1_000, stall_count=1,
          bitrate_kbps=3_000),
        e("s1", "playback_ended", t0 + 30_000, reason="completed", played_ms=5_000,
          bitrate_kbps=3_000),
        e("s2", "play_requested", t0 + 10_000),
        e("s2", "playback_started", t0 + 11_000, startup_ms=600),
        e("s2", "playback_ended", t0 + 25_000, reason="user_exit", played_ms=10_000,
          bitrate_kbps=2_000),
        # minute 1: two Android 14 views on the same device, one a video start failure
        e("s3", "play_requested", t0 + 60_000),
        e("s3", "playback_started", t0 + 61_200, startup_ms=1_200),
        e("s3", "heartbeat", t0 + 71_200, played_ms=10_000, stalled_ms=2_000, stall_count=2,
          bitrate_kbps=1_500),
        e("s3", "playback_ended", t0 + 80_000, reason="completed", played_ms=2_000,
          bitrate_kbps=1_500),
        e("s4", "play_requested", t0 + 70_000),
        e("s4", "playback_error", t0 + 75_000, code="E1", fatal=True),
        # minute 2: an exit before video start on a device outside the top 2
        e("s6", "play_requested", t0 + 130_000),
        e("s6", "playback_ended", t0 + 135_000, reason="user_exit", played_ms=0),
        # minute 3: a live view on TV, alone in its minute, outside the day's top 2
        e("s7", "play_requested", t0 + 180_000),
        e("s7", "playback_started", t0 + 181_000, startup_ms=2_000),
        e("s7", "heartbeat", t0 + 211_000, played_ms=30_000, bitrate_kbps=5_000),
        e("s7", "playback_ended", t0 + 221_000, reason="user_exit", played_ms=10_000,
          bitrate_kbps=5_000),
    ]  # fmt: skip


def log_records(events: list[dict[str, Any]]) -> pl.DataFrame:
    """Events through the real validation and enrichment, parsed as the pipeline reads them."""
    return records.parse_segment("test", log_bytes(events)).frame


def log_bytes(events: list[dict[str, Any]]) -> bytes:
    enricher = Enricher(Pseudonymiser(b"k"), 300, 7 * 86_400)
    raw = [json.dumps(event).encode() for event in events]
    result = ingest_events(raw, None, "app", int(time.time() * 1000), None, enricher)
    assert result.accepted == len(events), result.rejected
    return bytes(result.log_bytes)


# ---- The pipeline ------------------------------------------------------------------------


def dimensions_of(merged: pl.DataFrame) -> dict[str, tuple[str, str, str]]:
    return {
        row["session_id"]: (row["app_version"], row["os"], row["device"])
        for row in merged.iter_rows(named=True)
    }


def test_views_carry_the_normalised_values_of_their_first_event_whatever_the_split() -> None:
    """s5's later events say 5.5.0: the view keeps 5.4 of its first event, in one batch
    or in any split merged in any order."""
    t0 = scenario_start_ms()
    frame = log_records(s5_later_events(t0) + other_events(t0))
    rng = random.Random(17)
    for _ in range(10):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rng.randrange(1 << 30))
        cut = rng.randrange(frame.height + 1)
        parts = [shuffled.head(cut), shuffled.tail(frame.height - cut)]
        for merged in (
            views.view_partials(shuffled),
            views.merge_view_partials([views.view_partials(part) for part in parts][::-1]),
        ):
            assert dimensions_of(merged) == NORMALISED


def test_a_tie_on_the_first_event_picks_the_least_normalised_values() -> None:
    """Two first events of a view at the same millisecond: the pick orders them by their
    normalised values, so a split cannot change the result (`Android 14` < `iOS 17`)."""
    t0 = scenario_start_ms()
    tied = [
        scenario_event("s1", "play_requested", t0, os="iOS 17.6.1"),
        scenario_event("s1", "heartbeat", t0, os="android 14", played_ms=0),
    ]
    frame = log_records(tied)
    for merged in (
        views.view_partials(frame),
        views.merge_view_partials([views.view_partials(frame[:1]), views.view_partials(frame[1:])]),
        views.merge_view_partials([views.view_partials(frame[1:]), views.view_partials(frame[:1])]),
    ):
        assert merged["os"].to_list() == ["Android 14"]


def test_partials_landed_before_the_dimensions_merge_as_unknown() -> None:
    old = pl.DataFrame([view_partial("s1", 1_000, 2_000)]).drop("app_version", "os", "device")
    new = pl.DataFrame(
        [view_partial("s1", 1_500, 3_000, app_version="5.4", os="iOS 17", device="x")]
    )
    merged = views.merge_view_partials([new, old])
    assert dimensions_of(merged) == {"s1": ("unknown", "unknown", "unknown")}


def test_the_streaming_combiner_carries_the_dimensions() -> None:
    """The streaming job's per-window combiner, fed the scenario in two accumulators."""
    t0 = scenario_start_ms()
    lines = log_bytes(s5_later_events(t0) + other_events(t0)).splitlines()
    combiner = RecordsToPartials()
    halves = []
    for part in (lines[::2], lines[1::2]):
        accumulator = combiner.create_accumulator()
        for line in part:
            accumulator = combiner.add_input(accumulator, line)
        halves.append(combiner.compact(accumulator))
    partials = combiner.extract_output(combiner.merge_accumulators(halves))
    assert dimensions_of(partials[VIEW_SUMMARIES]) == NORMALISED


def old_view_summaries_schema() -> pa.Schema:
    """`view_summaries` as it was before the dimension columns."""
    schema = LAKE_TABLES[VIEW_SUMMARIES]
    return pa.schema([field for field in schema if field.name not in VIEW_ADDED_ATTRIBUTES])


def lake_with_an_old_view_run(root: Path) -> DataLayout:
    """A lake whose run 1 of view_summaries was landed before the dimension columns."""
    layout = DataLayout(root).ensure()
    ensure_lake(layout)
    row = {**view_partial("s_old", 1_000, 2_000), "run_id": 1, "processed_at_ms": 5}
    write_table_atomically(
        pa.Table.from_pylist([row], schema=old_view_summaries_schema()),
        layout.lake_table_dir(VIEW_SUMMARIES) / "run-000000000001.parquet",
    )
    return layout


def test_the_snowflake_sink_adds_the_columns_and_exports_old_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Snowflake table made before the dimensions gets them when the sink connects; a
    run file landed before them exports with them null (dbt reads null as unknown)."""
    for name, value in {
        "MARQUEE_SNOWFLAKE_ACCOUNT": "test",
        "MARQUEE_SNOWFLAKE_USER": "test",
        "MARQUEE_SNOWFLAKE_PASSWORD": "test",
        "MARQUEE_SNOWFLAKE_DATABASE": "MARQUEE",
        "MARQUEE_SNOWFLAKE_SCHEMA": "MAIN",
    }.items():
        monkeypatch.setenv(name, value)
    layout = lake_with_an_old_view_run(tmp_path / "data")
    with fakesnow.patch(create_database_on_connect=True, create_schema_on_connect=True):
        import snowflake.connector

        connection = snowflake.connector.connect(database="MARQUEE", schema="MAIN")
        with connection.cursor() as cursor:
            cursor.execute(create_table_sql(VIEW_SUMMARIES, old_view_summaries_schema()))
        with SnowflakeSink.from_env() as sink:
            processed_at_ms, tables = lake_run_tables(layout.lake_dir, 1)
            assert tables[VIEW_SUMMARIES]["os"].to_list() == [None]
            sink.write_batch(1, processed_at_ms, {VIEW_SUMMARIES: tables[VIEW_SUMMARIES]})
            with sink.connection.cursor() as cursor:
                columns = ", ".join(identifier(name) for name in ("session_id", "os", "device"))
                cursor.execute(f"SELECT {columns} FROM VIEW_SUMMARIES")
                assert cursor.fetchall() == [("s_old", None, None)]


# ---- Through the API, the pipeline and dbt -----------------------------------------------


def post(data_dir: Path, events: list[dict[str, Any]]) -> None:
    api = start_api(data_dir, {"MARQUEE_WRITE_KEYS": f"{APP_ID}:{WRITE_KEY}"})
    try:
        response = api.post({"events": events})
        assert response.status_code == 202, response.text
        assert response.json()["rejected"] == []
    finally:
        api.stop()


def run_pipeline_once(data_dir: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pipelines", "local", "--once"],
        cwd=REPO_ROOT, env=dict(os.environ, MARQUEE_DATA_DIR=str(data_dir)),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]


Rows = list[dict[str, Any]]


def query(db: Path, sql: str, *parameters: object) -> Rows:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql, list(parameters))
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def build(layout: DataLayout, *extra: str) -> None:
    result = run_dbt_build(
        layout,
        "--select",
        "+dimension_daily_qoe",
        "+dimension_minute_qoe",
        "--indirect-selection",
        "cautious",
        "--vars",
        json.dumps({"marquee_qoe_top_values": TOP_VALUES}),
        *extra,
    )
    assert result.success, result.tail(60)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    """(the scenario's t0, the built warehouse): s5's later events in the pipeline's first
    run, everything else in its second."""
    data_dir = tmp_path_factory.mktemp("qoe_dimensions") / "data"
    t0 = scenario_start_ms()
    post(data_dir, s5_later_events(t0))
    run_pipeline_once(data_dir)
    post(data_dir, other_events(t0))
    run_pipeline_once(data_dir)
    layout = DataLayout(data_dir)
    runs = sorted((layout.lake_table_dir(VIEW_SUMMARIES)).glob("run-*.parquet"))
    assert len(runs) == 2, "s5's partials come from two runs"
    build(layout)
    return t0, layout.dbt_db


def test_views_mart_holds_the_first_events_normalised_values(golden: tuple[int, Path]) -> None:
    _, db = golden
    rows = query(db, "select session_id, app_version, os, device from playback_sessions")
    assert {r["session_id"]: (r["app_version"], r["os"], r["device"]) for r in rows} == NORMALISED


def day_rows(db: Path, dimension: str) -> dict[str, dict[str, Any]]:
    rows = query(db, "select * from dimension_daily_qoe where dimension = ?", dimension)
    return {row["dimension_value"]: row for row in rows}


def test_every_dimension_splits_the_days_views(golden: tuple[int, Path]) -> None:
    """Each dimension's rows of the day hold the day's seven views between them; app
    version, OS and device name the day's top 2 values and fold the rest into other."""
    t0, db = golden
    day = datetime.fromtimestamp(t0 / 1000, UTC).date()
    rows = query(db, "select view_date, dimension, dimension_value, views from dimension_daily_qoe")
    assert {row["view_date"] for row in rows} == {day}
    views_by = {
        dimension: {r["dimension_value"]: r["views"] for r in rows if r["dimension"] == dimension}
        for dimension in ("content_type", "platform", "country", "app_version", "os", "device")
    }
    assert views_by == {
        "content_type": {"vod": 6, "live": 1},
        "platform": {"ios": 3, "android": 3, "tv": 1},
        "country": {"DE": 6, "US": 1},
        # 5.3 and 5.4 tie at 3 views (ranked by value); 3.2 is third.
        "app_version": {"5.3": 3, "5.4": 3, "other": 1},
        "os": {"Android 14": 3, "iOS 17": 3, "other": 1},
        "device": {"iphone15,2": 3, "pixel 8": 2, "other": 2},
    }


def test_the_day_of_an_os_has_every_qoe_metric(golden: tuple[int, Path]) -> None:
    """iOS 17 (s1, s2, s5; two viewers): startups 400, 600, 800 ms; s1 stalls 1 s of
    41.8 s watched; s1 and s5 complete."""
    _, db = golden
    ios = day_rows(db, "os")["iOS 17"]
    expected = {
        "views": 3,
        "unique_viewers": 2,
        "started_views": 3,
        "failed_views": 0,
        "vsf_views": 0,
        "ebvs_views": 0,
        "completed_views": 2,
        "playback_failure_pct": 0.0,
        "vsf_pct": 0.0,
        "ebvs_pct": 0.0,
        "startup_mean_ms": 600.0,
        "startup_p50_ms": 600.0,
        "startup_p95_ms": 780.0,
        "rebuffer_pct": 100 * 1_000 / 41_800,
        "rebuffer_frequency_per_min": 1 / (41_800 / 60_000),
        "avg_bitrate_kbps": 99_000_000 / 39_000,
        "played_ms": 39_000,
        "watched_ms": 41_800,
        "watch_time_hours": 41_800 / HOUR_MS,
        "avg_view_duration_secs": 13.0,
        "completion_rate_pct": 200 / 3,
    }
    assert {name: ios[name] for name in expected} == pytest.approx(expected)
    android = day_rows(db, "os")["Android 14"]
    assert (android["vsf_views"], android["ebvs_views"], android["startup_p50_ms"]) == (1, 1, 1200)
    assert android["completion_rate_pct"] == pytest.approx(100.0)
    assert day_rows(db, "app_version")["5.4"]["unique_viewers"] == 2
    other_devices = day_rows(db, "device")["other"]  # s6 (an exit before start) and s7
    assert (other_devices["views"], other_devices["ebvs_views"]) == (2, 1)
    assert other_devices["startup_p50_ms"] == 2000
    assert other_devices["completion_rate_pct"] is None  # s7 is live


def minute_rows(db: Path, t0: int, minute: int, dimension: str) -> dict[str, dict[str, Any]]:
    rows = query(
        db,
        "select * from dimension_minute_qoe where epoch_minute = ? and dimension = ?",
        t0 // 60_000 + minute,
        dimension,
    )
    return {row["dimension_value"]: row for row in rows}


def test_minutes_break_down_by_view_start_with_the_days_top_values(
    golden: tuple[int, Path],
) -> None:
    t0, db = golden
    first = minute_rows(db, t0, 0, "os")["iOS 17"]  # s1 and s2
    assert (first["views"], first["unique_viewers"]) == (2, 1)
    assert first["startup_p50_ms"] == pytest.approx(500.0)
    assert first["startup_p95_ms"] == pytest.approx(590.0)
    assert first["rebuffer_pct"] == pytest.approx(100 * 1_000 / (26_400 + 10_600))
    # s7 is alone in minute 3, yet outside the day's top 2: other, as on its day.
    assert {
        dimension: set(minute_rows(db, t0, 3, dimension))
        for dimension in ("app_version", "os", "device", "platform")
    } == {"app_version": {"other"}, "os": {"other"}, "device": {"other"}, "platform": {"tv"}}
    assert set(minute_rows(db, t0, 2, "device")) == {"iphone15,2", "other"}  # s5, s6


def test_a_values_minutes_add_up_to_its_day(golden: tuple[int, Path]) -> None:
    _, db = golden
    by_minutes = query(
        db,
        "select dimension, dimension_value, sum(views) as views, sum(started_views) as started,"
        " sum(watched_ms) as watched_ms from dimension_minute_qoe group by 1, 2 order by 1, 2",
    )
    by_day = query(
        db,
        "select dimension, dimension_value, views, started_views as started, watched_ms"
        " from dimension_daily_qoe order by 1, 2",
    )
    assert by_minutes == by_day
