"""Incremental marts and staging equal a full refresh: build, land more data (late, resumed,
new), build incrementally, build again with nothing new (no run may count twice), then compare
every incremental model with a full refresh of the same data. Staging merges only new runs
into the keys they touch; the second run adds to keys of the first (late data for an old
minute, a view, a fact seen again) and names the creator of content first seen unnamed.

Real dbt builds on DuckDB over Parquet run files written with the lake's own schemas. "Now"
is pinned per build (`marquee_now_ms`) so view states are reproducible: the first build
sees view s2 open and s3 dropped; the second sees s2 ended and s3 resumed. Another scenario
backfills a day ten days older than the newest built, which a fixed lookback of the ingestion
horizon would miss: incremental models rebuild from the earliest time their inputs changed.
"""

from __future__ import annotations

import datetime
import json
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from marquee.catalog_files import write_catalogue
from marquee.lake import (
    AD_PLAYS,
    CREATOR_MINUTE_AGGREGATES,
    CREATOR_VIEWER_DAYS,
    IMPRESSION_MINUTE_AGGREGATES,
    LAKE_TABLES,
    LIVE_LATENCY_MINUTE_VALUES,
    LIVE_VIEWER_FACTS,
    MINUTE_AGGREGATES,
    REACTION_MINUTE_AGGREGATES,
    STORY_VIEWER_FACTS,
    TIP_MINUTE_AGGREGATES,
    VIEW_SUMMARIES,
    ensure_lake,
    write_table_atomically,
)
from marquee.layout import DataLayout
from pipelines.aggregates import MINUTE_MEASURES
from refresh.dbt_cli import DBT_PROJECT_DIR, dbt_command, dbt_environment
from tests.support.build_stamps import is_build_stamp
from tests.support.impression_scenario import at, day_d
from tests.support.lake_rows import ad_play, view_partial

pytestmark = pytest.mark.integration

AD_MARTS = (
    "ad_placement_daily_performance",
    "ad_daily_performance",
    "ad_position_daily_performance",
    "content_daily_ad_performance",
    "creator_daily_ad_performance",
)
INCREMENTAL_MARTS = (
    "playback_sessions",
    "content_minute_qoe",
    "content_daily_qoe",
    "content_daily_performance",
    "creator_daily_performance",
    "vod_clip_performance",
    "vod_clip_retention",
    *AD_MARTS,
    "creator_daily_tips",
    "int_live_minutes",
    "live_minute_latency",
    "int_live_session_latency",
    "int_story_minutes",
    "int_story_viewers",
    "int_creator_engagement_daily",
    "stories",
    "dimension_daily_qoe",
    "dimension_minute_qoe",
    "content_daily_impressions",
)
# Staging over the lake merges only the runs it has not merged yet into the rows of the keys
# they touch (dbt/macros/incremental_staging.sql); the second run adds to keys of the first.
INCREMENTAL_STAGING = (
    "stg_pipeline__minute_aggregates",
    "stg_pipeline__view_summaries",
    "stg_pipeline__ad_plays",
    "stg_pipeline__creator_minute_aggregates",
    "stg_pipeline__tip_minute_aggregates",
    "stg_pipeline__reaction_minute_aggregates",
    "stg_pipeline__story_viewer_facts",
    "stg_pipeline__live_viewer_facts",
    "stg_pipeline__creator_viewer_days",
    "stg_pipeline__live_latency_minute_values",
    "stg_pipeline__impression_minute_aggregates",
)
COMPARED = INCREMENTAL_MARTS + INCREMENTAL_STAGING
# Two UTC days before the session's (taken once); "now" is pinned per build, after it.
DAY = day_d()
NEXT_DAY = DAY + datetime.timedelta(days=1)
MS = 60_000
DAY_START_MINUTE = at(DAY, 0, 0) // MS
MINUTE = DAY_START_MINUTE + 600  # 10:00
NEXT_DAY_MINUTE = DAY_START_MINUTE + 1440 + 60  # NEXT_DAY 01:00


def minute_row(epoch_minute: int, content_id: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch_minute": epoch_minute,
        "content_id": content_id,
        "creator_id": "u1",
        "content_type": "vod",
        "platform": "web",
        "country": "DE",
        **dict.fromkeys(MINUTE_MEASURES, 0),
    }
    row.update(values)
    return row


def creator_minute_row(**values: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch_minute": MINUTE,
        "creator_id": "u1",
        "platform": "web",
        "country": "DE",
        "follows": 0,
        "unfollows": 0,
    }
    row.update(values)
    return row


def reaction_row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch_minute": MINUTE,
        "content_id": "st1",
        "creator_id": "u1",
        "content_type": "story",
        "reaction": "fire",
        "reactions": 0,
    }
    row.update(values)
    return row


def impression_row(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch_minute": MINUTE,
        "content_id": "c1",
        "creator_id": "u1",
        "content_type": "vod",
        "surface": "feed",
        "impressions": 0,
    }
    row.update(values)
    return row


def latency_row(latency_ms: int, heartbeats: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch_minute": MINUTE,
        "content_id": "l1",
        "creator_id": "u1",
        "content_type": "live",
        "live_latency_ms": latency_ms,
        "heartbeats": heartbeats,
    }
    row.update(values)
    return row


def story_fact(fact: str, at_ms: int) -> dict[str, Any]:
    return {"story_id": "st1", "viewer_key": "v1", "fact": fact, "at_ms": at_ms, "reaction": ""}


def live_fact(fact: str, at_ms: int) -> dict[str, Any]:
    return {"live_id": "l1", "viewer_key": "v1", "fact": fact, "at_ms": at_ms}


def viewer_day(activity: str) -> dict[str, Any]:
    return {
        "creator_id": "u1",
        "viewer_key": "v1",
        "day": DAY,
        "activity": activity,
    }


def land(
    layout: DataLayout,
    run_id: int,
    tables: dict[str, list[dict[str, Any]]],
    processed_at_ms: int | None = None,
) -> None:
    """Commit run `run_id` to the lake; processed at `run_id` seconds unless given."""
    for table, rows in tables.items():
        for row in rows:
            processed = run_id * 1000 if processed_at_ms is None else processed_at_ms
            row.update(run_id=run_id, processed_at_ms=processed)
        write_table_atomically(
            pa.Table.from_pylist(rows, schema=LAKE_TABLES[table]),
            layout.lake_table_dir(table) / f"run-{run_id:012d}.parquet",
        )


IPHONE = {"app_version": "5.4", "os": "iOS 17", "device": "iphone15,2"}
PIXEL = {"app_version": "5.3", "os": "Android 14", "device": "pixel 8"}
"""QoE dimensions of views, as the pipeline normalises them (others stay `unknown`)."""


def first_run(layout: DataLayout) -> None:
    start = MINUTE * MS
    land(
        layout,
        1,
        {
            MINUTE_AGGREGATES: [
                minute_row(
                    MINUTE,
                    "c1",
                    attempts=3,
                    starts=1,
                    played_ms=20_000,
                    startup_bucket_500_1000=1,
                    startup_ms_sum=600,
                    ad_impressions=2,
                    ad_q25=2,
                    ad_q50=1,
                ),
                minute_row(MINUTE + 1, "c1", played_ms=30_000, stalled_ms=500, stall_count=1),
                minute_row(MINUTE, "l1", content_type="live", attempts=2, played_ms=40_000),
                minute_row(MINUTE, "st1", content_type="story", story_views=3, reactions=1),
                # A share of content the catalogue does not know, sent without its creator.
                minute_row(MINUTE, "x1", creator_id="", content_type="clip", shares=1),
            ],
            CREATOR_MINUTE_AGGREGATES: [creator_minute_row(follows=1)],
            # s1's pre-roll ad a1 reached 50 %; s2's ad a2 shows only a quartile the next
            # day, until its impression (the day before) arrives in the second run: the
            # next day loses its only play. x1's ad names no creator until the catalogue.
            AD_PLAYS: [
                ad_play("s1", "a1", start + 1_000, True, reached_q25=True, reached_q50=True),
                ad_play(
                    "s2",
                    "a2",
                    NEXT_DAY_MINUTE * MS + 5_000,
                    False,
                    position="mid",
                    ad_format="overlay",
                    reached_q25=True,
                ),
                ad_play("s8", "a1", start + 2_000, True, content_id="x1", creator_id=""),
            ],
            REACTION_MINUTE_AGGREGATES: [reaction_row(reactions=1)],
            LIVE_LATENCY_MINUTE_VALUES: [latency_row(3000, 2), latency_row(9000, 1)],
            IMPRESSION_MINUTE_AGGREGATES: [impression_row(impressions=3)],
            STORY_VIEWER_FACTS: [
                story_fact("viewed", MINUTE * MS),
                # st2 announces live l2; v1 comes to l2 only in the second run.
                {**story_fact("viewed", MINUTE * MS), "story_id": "st2"},
            ],
            LIVE_VIEWER_FACTS: [live_fact("requested", MINUTE * MS)],
            CREATOR_VIEWER_DAYS: [viewer_day("view")],
            VIEW_SUMMARIES: [
                view_partial(
                    "s1",
                    start,
                    start + 40_000,
                    play_requested_ms=start,
                    started=True,
                    started_at_ms=start + 600,
                    startup_ms=600,
                    played_ms=30_000,
                    ended=True,
                    ended_at_ms=start + 40_000,
                    end_reason="completed",
                    max_playhead_ms=30_000,
                    event_count=5,
                    surface="feed",
                    **IPHONE,
                ),
                view_partial(
                    "s2",
                    start + 1_000,
                    start + 70_000,
                    play_requested_ms=start + 1_000,
                    started=True,
                    started_at_ms=start + 1_500,
                    startup_ms=500,
                    played_ms=20_000,
                    stalled_ms=500,
                    stall_count=1,
                    event_count=4,
                    **IPHONE,
                ),
                view_partial("s3", start + 2_000, start + 2_000, play_requested_ms=start + 2_000),
                # Open at the first build (35 s quiet); no run touches it again, so only
                # "now" turns it dropped (and EBVS) by the second. It starts in minute
                # 10:01, whose aggregates no later run touches: content_minute_qoe must
                # rebuild that minute for its view counts alone.
                view_partial(
                    "s5", start + 61_000, start + 65_000, play_requested_ms=start + 61_000
                ),
                # c3's only view: open at the first build, dropped by "now" alone at the
                # second; no run touches c3 again, so the marts per content must rebuild
                # it for the state of its open view alone.
                view_partial(
                    "s7",
                    start + 70_000,
                    start + 70_000,
                    play_requested_ms=start + 70_000,
                    content_id="c3",
                ),
                # Starts in 10:01 too, until a late event of the second run moves its
                # start to 10:00: 10:01 loses a view, and s6 takes that event's app
                # version, OS and device (the only view of 5.5, iOS 18 and pixel 9 goes).
                view_partial(
                    "s6",
                    start + 62_000,
                    start + 63_000,
                    play_requested_ms=start + 62_000,
                    ended=True,
                    ended_at_ms=start + 63_000,
                    end_reason="user_exit",
                    app_version="5.5",
                    os="iOS 18",
                    device="pixel 9",
                ),
            ],
        },
    )


def second_run(layout: DataLayout) -> None:
    start = MINUTE * MS
    land(
        layout,
        2,
        {
            MINUTE_AGGREGATES: [
                # Late events for a minute already built: they add to its row.
                minute_row(
                    MINUTE,
                    "c1",
                    attempts=1,
                    fatal_errors=1,
                    ad_impressions=1,
                    ad_q25=1,
                    ad_clicks=1,
                ),
                minute_row(
                    MINUTE + 2,
                    "c1",
                    starts=1,
                    startup_bucket_250_500=1,
                    startup_ms_sum=300,
                    played_ms=10_000,
                ),
                # Late live and story events for the minute already built, and a new one.
                minute_row(MINUTE, "l1", content_type="live", chat_messages=4),
                minute_row(MINUTE + 3, "l1", content_type="live", played_ms=60_000),
                minute_row(MINUTE, "st1", content_type="story", story_completions=1),
                # The first events naming x1's creator: every row of x1 takes it.
                minute_row(MINUTE + 5, "x1", creator_id="u9", content_type="clip", attempts=1),
                minute_row(
                    NEXT_DAY_MINUTE,
                    "c2",
                    attempts=1,
                    starts=1,
                    startup_ms_sum=900,
                    startup_bucket_500_1000=1,
                    played_ms=5_000,
                    content_type="clip",
                ),
            ],
            VIEW_SUMMARIES: [
                # s2 ends; s3, dropped in the first build, resumes and starts.
                view_partial(
                    "s2",
                    start + 80_000,
                    start + 90_000,
                    played_ms=10_000,
                    ended=True,
                    ended_at_ms=start + 90_000,
                    end_reason="user_exit",
                    max_playhead_ms=29_900,
                    event_count=2,
                ),
                view_partial(
                    "s3",
                    start + 150_000,
                    start + 160_000,
                    started=True,
                    started_at_ms=start + 150_000,
                    startup_ms=8_500,
                    played_ms=10_000,
                    event_count=2,
                ),
                view_partial(
                    "s6", start + 5_000, start + 5_000, play_requested_ms=start + 5_000, **PIXEL
                ),
                view_partial(
                    "s4",
                    NEXT_DAY_MINUTE * MS,
                    NEXT_DAY_MINUTE * MS + 6_000,
                    play_requested_ms=NEXT_DAY_MINUTE * MS,
                    content_id="c2",
                    content_type="clip",
                    started=True,
                    started_at_ms=NEXT_DAY_MINUTE * MS + 900,
                    startup_ms=900,
                    played_ms=5_000,
                    max_playhead_ms=5_000,
                    event_count=3,
                    **PIXEL,
                ),
            ],
            # Late rows for keys the first run built (they add to them, or only refresh
            # last_processed_at_ms for a fact seen again), and new keys.
            CREATOR_MINUTE_AGGREGATES: [creator_minute_row(follows=2, unfollows=1)],
            # A late heartbeat of a value the first run saw (its count adds), a new value in
            # the same minute (its percentiles change) and a later minute.
            LIVE_LATENCY_MINUTE_VALUES: [
                latency_row(3000, 1),
                latency_row(5000, 1),
                latency_row(2000, 1, epoch_minute=MINUTE + 3),
            ],
            REACTION_MINUTE_AGGREGATES: [
                reaction_row(reactions=2),
                reaction_row(epoch_minute=MINUTE + 3, reactions=1),
            ],
            # More feed impressions of a minute built before, and the next day's search.
            IMPRESSION_MINUTE_AGGREGATES: [
                impression_row(impressions=2),
                impression_row(epoch_minute=NEXT_DAY_MINUTE, surface="search", impressions=1),
            ],
            STORY_VIEWER_FACTS: [
                story_fact("viewed", MINUTE * MS),
                story_fact("completed", MINUTE * MS + 5_000),
            ],
            LIVE_VIEWER_FACTS: [
                live_fact("requested", MINUTE * MS),
                live_fact("started", MINUTE * MS + 2_000),
                # Converts v1 on st2, whose story facts no later run touches.
                {**live_fact("requested", MINUTE * MS + 60_000), "live_id": "l2"},
            ],
            CREATOR_VIEWER_DAYS: [viewer_day("view"), viewer_day("story")],
            AD_PLAYS: [
                # s1's ad completes and is clicked; s2's impression arrives.
                ad_play("s1", "a1", start + 16_000, False, reached_q100=True, clicked=True),
                ad_play("s2", "a2", start + 100_000, True, position=None, skipped=True),
            ],
            TIP_MINUTE_AGGREGATES: [
                {
                    "epoch_minute": MINUTE,
                    "creator_id": "u1",
                    "currency": "EUR",
                    "tips": 1,
                    "tips_amount_minor": 500,
                },
            ],
        },
    )


FIRST_NOW_MS = (MINUTE * MS) + 100_000  # s2, s5 open (30, 35 s quiet); s3 dropped (98 s)
SECOND_NOW_MS = NEXT_DAY_MINUTE * MS + 600_000


def dbt_build(
    layout: DataLayout,
    now_ms: int,
    *extra: str,
    marts: tuple[str, ...] = COMPARED,
    **variables: int,
) -> None:
    completed = run_dbt_build(layout, now_ms, *extra, marts=marts, **variables)
    assert completed.returncode == 0, completed.stdout[-5000:]


def run_dbt_build(
    layout: DataLayout,
    now_ms: int,
    *extra: str,
    marts: tuple[str, ...] = COMPARED,
    **variables: int,
) -> subprocess.CompletedProcess[str]:
    arguments = [
        "build",
        "--select",
        *(f"+{mart}" for mart in marts),
        # Only tests of these models (and their parents), not the other marts' tests.
        "--indirect-selection",
        "cautious",
        # The stories mart (a parent of creator_daily_performance) is not compared here,
        # and these rows are not a consistent story: reactions without reaction facts.
        "--exclude",
        "row_rules_stories",
        "--vars",
        json.dumps({"marquee_now_ms": now_ms, **variables}),
        *extra,
    ]
    return subprocess.run(
        dbt_command(layout, *arguments),
        cwd=DBT_PROJECT_DIR, env=dbt_environment(layout), capture_output=True, text=True,
        check=False,
    )  # fmt: skip


def snapshot(
    layout: DataLayout, tables: tuple[str, ...] = COMPARED
) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows, columns by name (a column a build appended to an older table
    comes last), without the build stamps."""
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        return {table: table_rows(connection, table) for table in tables}


def table_rows(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    relation = connection.table(f"main.{table}")
    columns = sorted(column for column in relation.columns if not is_build_stamp(column))
    return sorted(relation.select(*columns).fetchall(), key=repr)


def query_rows(
    layout: DataLayout, sql: str, parameters: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        return connection.execute(sql, parameters).fetchall()


def assert_a_full_refresh_changes_nothing(
    layout: DataLayout, now_ms: int, marts: tuple[str, ...], tables: tuple[str, ...]
) -> None:
    """`tables`, as the incremental builds of `marts` left them, equal a full refresh."""
    incremental = snapshot(layout, tables)
    dbt_build(layout, now_ms, "--full-refresh", marts=marts)
    assert incremental == snapshot(layout, tables)


def view_states(layout: DataLayout) -> dict[str, str]:
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        return dict(
            connection.execute("select session_id, view_state from playback_sessions").fetchall()
        )


CREATORS: list[dict[str, Any]] = [{"creator_id": "u1", "name": "One"}]
CONTENT: list[dict[str, Any]] = [
    {"content_id": "c1", "creator_id": "u1", "content_type": "vod", "duration_ms": 30_000},
    {"content_id": "c2", "creator_id": "u1", "content_type": "clip", "duration_ms": 5_000},
    {"content_id": "c3", "creator_id": "u1", "content_type": "vod", "duration_ms": 9_000},
    {"content_id": "st2", "creator_id": "u1", "content_type": "story", "announces_live_id": "l2"},
]


def new_layout(root: Path) -> DataLayout:
    layout = DataLayout(root).ensure()
    ensure_lake(layout)
    write_catalogue(layout.catalog_dir, CREATORS, CONTENT)
    return layout


Builds = tuple[DataLayout, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]
"""The layout, and snapshots after the first build, the incremental second build, a plain
build with nothing new (and one after dropping a staging ledger), and a full refresh."""


@pytest.fixture(scope="module")
def incremental_then_full(
    tmp_path_factory: pytest.TempPathFactory,
) -> Builds:
    layout = new_layout(tmp_path_factory.mktemp("incremental") / "data")
    first_run(layout)
    dbt_build(layout, FIRST_NOW_MS)
    after_first = {**snapshot(layout), "view_states": sorted(view_states(layout).items())}
    second_run(layout)
    dbt_build(layout, SECOND_NOW_MS)
    incremental = snapshot(layout)
    # Nothing new: every run is merged already and must not count again.
    dbt_build(layout, SECOND_NOW_MS)
    rebuilt = snapshot(layout)
    # A staging table without its manifest rows (built before staging was incremental) is
    # rebuilt from every run on its next build, not merged with them again; a mart without
    # its watermark column (built before it had one) rewrites every row it can, once.
    with duckdb.connect(str(layout.dbt_db)) as connection:
        connection.execute(
            "delete from main.incremental_manifest"
            " where model_name = 'stg_pipeline__minute_aggregates'"
        )
        for mart in ("playback_sessions", "content_minute_qoe", "int_story_viewers"):
            connection.execute(f"alter table main.{mart} drop column staged_built_at_ms")
        for mart in ("content_daily_qoe", "vod_clip_performance", "vod_clip_retention"):
            connection.execute(f"alter table main.{mart} drop column views_built_at_ms")
        for column in ("minutes_built_at_ms", "viewers_built_at_ms"):
            connection.execute(f"alter table main.stories drop column {column}")
    dbt_build(layout, SECOND_NOW_MS)
    rebuilt.update(
        (f"{table} without its manifest rows", rows) for table, rows in snapshot(layout).items()
    )
    dbt_build(layout, SECOND_NOW_MS, "--full-refresh")
    return layout, after_first, incremental, rebuilt, snapshot(layout)


def test_view_states_follow_the_pinned_now_and_resumption(
    incremental_then_full: Builds,
) -> None:
    layout, after_first, _, _, _ = incremental_then_full
    assert after_first["view_states"] == [
        ("s1", "ended"),
        ("s2", "open"),
        ("s3", "dropped"),
        ("s5", "open"),
        ("s6", "ended"),
        ("s7", "open"),
    ]
    # s3 resumed (one view, now started) and went quiet again; s4 never ended; s5 only
    # went quiet.
    assert view_states(layout) == {
        "s1": "ended",
        "s2": "ended",
        "s3": "dropped",
        "s4": "dropped",
        "s5": "dropped",
        "s6": "ended",
        "s7": "dropped",
    }
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        resumed = connection.execute(
            "select is_started, is_ebvs, startup_ms from playback_sessions where session_id = 's3'"
        ).fetchall()
    assert resumed == [(True, False, 8_500)]


def test_incremental_marts_equal_a_full_refresh(
    incremental_then_full: Builds,
) -> None:
    _, after_first, incremental, rebuilt, full = incremental_then_full
    for table in COMPARED:
        assert incremental[table] == full[table], table
        assert rebuilt[table] == full[table], f"{table} after a build with no new run"
        assert rebuilt[f"{table} without its manifest rows"] == full[table], table
        assert incremental[table] != after_first[table], f"{table} took in the new data"


def test_an_ad_play_moves_to_its_impressions_day_and_leaves_no_row_behind(
    incremental_then_full: Builds,
) -> None:
    """s2's ad was seen the next day by a quartile alone (a play without impression);
    its impression, the day before, arrives in the second run: the play, with its
    quartile and skip, counts on the impression's day, and the next day, which held only
    that play, has no row left in any ad mart after the incremental build."""
    layout, after_first, incremental, _, _ = incremental_then_full
    day, next_day = DAY, NEXT_DAY
    for mart in AD_MARTS:
        assert any(next_day in row for row in after_first[mart]), mart
        assert not any(next_day in row for row in incremental[mart]), mart
    placements = query_rows(
        layout,
        "select day, content_id, ad_id, position, ad_format, ad_impressions, ad_q25,"
        " ad_q100, ad_skips, ad_clicks, ad_plays_without_impression, q25_reach_pct"
        " from ad_placement_daily_performance order by all",
    )
    assert placements == [
        (day, "c1", "a1", "pre", "linear", 1, 1, 1, 0, 1, 0, 100.0),
        (day, "c1", "a2", "mid", "overlay", 1, 1, 0, 1, 0, 0, 100.0),
        (day, "x1", "a1", "pre", "linear", 1, 0, 0, 0, 0, 0, 0.0),
    ]


def test_a_backfill_older_than_the_ingestion_horizon_reaches_every_incremental_mart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A backfill or a quarantine replay can land runs for any past time. Incremental builds
    rebuild from the earliest time their inputs changed (dbt/macros/incremental.sql), not
    from a fixed lookback, so a day a week and more older than the newest built reaches
    every incremental mart as a full refresh takes it in (a 7-day lookback missed it). A
    later build that rebuilds only the newer days compares their week-over-week changes
    with that day as the table holds it, and takes in a reaction dated by nothing else."""
    layout = new_layout(tmp_path_factory.mktemp("backfill") / "data")
    first_run(layout)
    second_run(layout)
    dbt_build(layout, SECOND_NOW_MS)
    week_before_minute = MINUTE - 7 * 1440
    week_before_ms = week_before_minute * MS
    week_before_day = DAY - datetime.timedelta(days=7)
    land(
        layout,
        3,
        {
            MINUTE_AGGREGATES: [
                minute_row(
                    week_before_minute,
                    "c1",
                    attempts=2,
                    starts=1,
                    played_ms=9_000,
                    ad_impressions=1,
                ),
                minute_row(
                    week_before_minute, "l1", content_type="live", played_ms=30_000, chat_messages=2
                ),
                minute_row(week_before_minute, "st1", content_type="story", story_views=1),
            ],
            VIEW_SUMMARIES: [
                view_partial(
                    "s10",
                    week_before_ms,
                    week_before_ms + 9_500,
                    play_requested_ms=week_before_ms,
                    started=True,
                    started_at_ms=week_before_ms + 500,
                    startup_ms=500,
                    played_ms=9_000,
                    ended=True,
                    ended_at_ms=week_before_ms + 9_500,
                    end_reason="user_exit",
                    event_count=3,
                ),
            ],
            CREATOR_MINUTE_AGGREGATES: [
                creator_minute_row(epoch_minute=week_before_minute, follows=1)
            ],
            CREATOR_VIEWER_DAYS: [{**viewer_day("view"), "day": week_before_day}],
            STORY_VIEWER_FACTS: [{**story_fact("viewed", week_before_ms), "viewer_key": "v7"}],
        },
    )
    dbt_build(layout, SECOND_NOW_MS)
    backfilled = query_rows(
        layout,
        "select (select play_requests from content_daily_performance"
        " where day = $day and content_id = 'c1'),"
        " (select views from creator_daily_performance where day = $day and creator_id = 'u1'),"
        " (select follows from int_creator_engagement_daily where day = $day)",
        {"day": week_before_day},
    )
    assert backfilled == [(2, 1, 1)]
    assert_a_full_refresh_changes_nothing(layout, SECOND_NOW_MS, COMPARED, INCREMENTAL_MARTS)

    # A late view a week after the backfilled day, and a reaction the day after it to a
    # story nobody has viewed (only the reaction's own stamp dates it): the build rebuilds
    # from that reaction's day on.
    start = MINUTE * MS
    reaction_ms = week_before_ms + 86_400_000
    land(
        layout,
        4,
        {
            VIEW_SUMMARIES: [view_partial("s11", start + 9_000, start + 9_000)],
            STORY_VIEWER_FACTS: [
                {
                    **story_fact("reacted", reaction_ms),
                    "story_id": "st9",
                    "viewer_key": "v8",
                    "reaction": "fire",
                }
            ],
        },
    )
    dbt_build(layout, SECOND_NOW_MS)
    assert_a_full_refresh_changes_nothing(layout, SECOND_NOW_MS, COMPARED, INCREMENTAL_MARTS)
    week_over_week = query_rows(
        layout,
        "select views, views_wow_change_pct from creator_daily_performance"
        " where day = $day and creator_id = 'u1'",
        {"day": week_before_day + datetime.timedelta(days=7)},
    )
    assert week_over_week == [(7, 600.0)]
    reactions_that_day = query_rows(
        layout,
        "select valid_story_reactions from int_creator_engagement_daily where day = $day",
        {"day": week_before_day + datetime.timedelta(days=1)},
    )
    assert reactions_that_day == [(1,)]


def test_a_run_processed_before_runs_already_built_still_reaches_the_marts(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Streaming batches commit in any order, so a run can land after runs processed later.
    The marts find what staging rewrote by staging's build stamps, not by the runs' times:
    an incremental build takes in the late-committed run as a full refresh does (with the
    runs' processed_at_ms as the watermark, views missed s9 and story viewer v9)."""
    layout = new_layout(tmp_path_factory.mktemp("out_of_order") / "data")
    first_run(layout)
    second_run(layout)
    marts = ("playback_sessions", "content_minute_qoe", "int_story_viewers")
    dbt_build(layout, SECOND_NOW_MS, marts=marts)
    start = MINUTE * MS
    land(
        layout,
        3,
        {
            MINUTE_AGGREGATES: [minute_row(MINUTE + 5, "c2", content_type="clip", attempts=1)],
            VIEW_SUMMARIES: [
                view_partial("s9", start + 300_000, start + 300_000, content_id="c2"),
            ],
            STORY_VIEWER_FACTS: [{**story_fact("viewed", start + 9_000), "viewer_key": "v9"}],
        },
        processed_at_ms=500,  # before run 1
    )

    dbt_build(layout, SECOND_NOW_MS, marts=marts)
    incremental = snapshot(layout, marts)
    dbt_build(layout, SECOND_NOW_MS, "--full-refresh", marts=marts)
    full = snapshot(layout, marts)

    for mart in marts:
        assert incremental[mart] == full[mart], mart
    assert any("s9" in row for row in full["playback_sessions"])


def test_a_warehouse_with_per_model_ledgers_moves_them_into_the_manifest(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Warehouses built before the manifest kept each staging model's merged runs in
    `<model>__merged_runs` (and `__pending_runs`). The next build moves them into
    `incremental_manifest` and drops them, and stays incremental: a build with no new run
    writes no staging row (without the move, every staging table would be rebuilt from
    every run, re-stamping its rows)."""
    layout = new_layout(tmp_path_factory.mktemp("ledgers") / "data")
    first_run(layout)
    marts = ("playback_sessions",)
    dbt_build(layout, FIRST_NOW_MS, marts=marts)
    stamps = "select max(built_at_ms) from main.{}"
    with duckdb.connect(str(layout.dbt_db)) as connection:
        manifest = connection.execute(
            "select model_name, run_id from main.incremental_manifest order by all"
        ).fetchall()
        staging = sorted({model for model, _ in manifest})
        built = {model: connection.execute(stamps.format(model)).fetchall() for model in staging}
        for model in staging:
            connection.execute(
                f"create table main.{model}__merged_runs as select run_id"
                " from main.incremental_manifest where model_name = ?",
                [model],
            )
            connection.execute(f"create table main.{model}__pending_runs (run_id bigint)")
            connection.execute(
                "delete from main.incremental_manifest where model_name = ?", [model]
            )
    assert "stg_pipeline__view_summaries" in staging

    dbt_build(layout, FIRST_NOW_MS, marts=marts)

    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        tables = {name for (name,) in connection.execute("show tables").fetchall()}
        assert not {name for name in tables if name.endswith(("__merged_runs", "__pending_runs"))}
        assert (
            connection.execute(
                "select model_name, run_id from main.incremental_manifest order by all"
            ).fetchall()
            == manifest
        )
        for model in staging:
            assert connection.execute(stamps.format(model)).fetchall() == built[model], model


def test_an_incremental_build_still_tests_the_rows_it_writes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Tests of a plain build see only the rows it wrote (dbt/macros/test_window.sql); a
    bad row a new run lands must still fail the build."""
    layout = new_layout(tmp_path_factory.mktemp("bad_new_run") / "data")
    first_run(layout)
    only = ("stg_pipeline__minute_aggregates",)
    dbt_build(layout, FIRST_NOW_MS, marts=only)
    land(layout, 3, {MINUTE_AGGREGATES: [minute_row(NEXT_DAY_MINUTE, "c1", played_ms=-5)]})
    completed = run_dbt_build(layout, SECOND_NOW_MS, marts=only)
    assert completed.returncode != 0
    assert "FAIL 1 row_rules_stg_pipeline__minute_aggregates" in completed.stdout


def test_a_bad_row_an_earlier_build_wrote_fails_every_build_that_tests_all_rows(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Once a later build has written other rows, a plain build no longer sees the bad row
    a failed build wrote; the build that tests every row, which the refresh loop runs after
    a failure (refresh.loop.TEST_ALL_ROWS), still fails on it."""
    layout = new_layout(tmp_path_factory.mktemp("bad_old_row") / "data")
    first_run(layout)
    only = ("stg_pipeline__minute_aggregates",)
    dbt_build(layout, FIRST_NOW_MS, marts=only)
    land(layout, 3, {MINUTE_AGGREGATES: [minute_row(NEXT_DAY_MINUTE, "c1", played_ms=-5)]})
    assert run_dbt_build(layout, SECOND_NOW_MS, marts=only).returncode != 0
    land(layout, 4, {MINUTE_AGGREGATES: [minute_row(NEXT_DAY_MINUTE + 1, "c1")]})

    dbt_build(layout, SECOND_NOW_MS, marts=only)
    every_row = run_dbt_build(layout, SECOND_NOW_MS, marts=only, marquee_test_all_rows=True)

    assert every_row.returncode != 0
    assert "FAIL 1 row_rules_stg_pipeline__minute_aggregates" in every_row.stdout


def test_a_staging_table_whose_columns_differ_from_its_sql_stops_the_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Staging fails on a schema change (on_schema_change 'fail', checked in one statement
    on DuckDB: dbt/macros/schema_changes.sql) rather than merge new runs into a table
    whose columns are not its SQL's; the marts append a column their SQL gained (the
    fixture above drops their watermarks)."""
    layout = new_layout(tmp_path_factory.mktemp("schema_change") / "data")
    first_run(layout)
    only = ("stg_pipeline__minute_aggregates",)
    dbt_build(layout, FIRST_NOW_MS, marts=only)
    with duckdb.connect(str(layout.dbt_db)) as connection:
        connection.execute(
            "alter table main.stg_pipeline__minute_aggregates add column retired bigint"
        )
    land(layout, 3, {MINUTE_AGGREGATES: [minute_row(NEXT_DAY_MINUTE, "c1")]})

    completed = run_dbt_build(layout, SECOND_NOW_MS, marts=only)

    assert completed.returncode != 0
    assert "out of sync" in completed.stdout
    assert "Target columns not in source: [DuckDBColumn(column='retired'" in completed.stdout


def test_a_catalogue_change_alone_reaches_the_stories_mart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """stories rewrites the stories whose rows upstream models rewrote, and also those the
    catalogue changed with no new event: a story retitled, a creator renamed, a story
    published before its first view. Each build equals a full refresh."""
    layout = new_layout(tmp_path_factory.mktemp("catalogue_change") / "data")
    first_run(layout)
    only = ("stories",)
    dbt_build(layout, FIRST_NOW_MS, marts=only)
    retitled = [
        {**content, "title": "Now titled"} if content["content_id"] == "st2" else content
        for content in CONTENT
    ]
    unseen_story = {"content_id": "st9", "creator_id": "u1", "content_type": "story"}
    write_catalogue(
        layout.catalog_dir, [{"creator_id": "u1", "name": "Renamed"}], [*retitled, unseen_story]
    )

    dbt_build(layout, FIRST_NOW_MS, marts=only)

    assert_a_full_refresh_changes_nothing(layout, FIRST_NOW_MS, only, only)
    stories = query_rows(
        layout, "select story_id, content_title, creator_name from stories order by story_id"
    )
    assert stories == [
        ("st1", None, "Renamed"),
        ("st2", "Now titled", "Renamed"),
        ("st9", None, "Renamed"),
    ]


def test_a_catalogue_change_alone_reaches_every_mart_that_copies_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A creator renamed and a content's duration and title changed, with no new event:
    the views of that content and that creator (title, duration, completion, creator
    name), the clip performance and every day of the creator's daily numbers, a day
    without views among them, are rewritten as a full refresh writes them; and content
    seen only in events that enters the catalogue takes its owner from it, in staging and
    every mart (macros/catalogue_changes.sql)."""
    layout = new_layout(tmp_path_factory.mktemp("catalogue_copies") / "data")
    first_run(layout)
    second_run(layout)
    # A day of the creator with a follow and no view: only the creator's record reaches it.
    day_before_minute = DAY_START_MINUTE - 600
    land(
        layout,
        3,
        {
            CREATOR_MINUTE_AGGREGATES: [
                creator_minute_row(epoch_minute=day_before_minute, follows=1)
            ]
        },
    )
    dbt_build(layout, SECOND_NOW_MS)
    longer = [
        {**content, "title": "Director's cut", "duration_ms": 60_000}
        if content["content_id"] == "c1"
        else content
        for content in CONTENT
    ]
    # x1, seen only in events (its creator u9 from the second run), enters the catalogue.
    x1 = {"content_id": "x1", "creator_id": "u1", "content_type": "clip", "duration_ms": 8_000}
    write_catalogue(layout.catalog_dir, [{"creator_id": "u1", "name": "Renamed"}], [*longer, x1])

    dbt_build(layout, SECOND_NOW_MS)

    assert_a_full_refresh_changes_nothing(layout, SECOND_NOW_MS, COMPARED, COMPARED)
    assert query_rows(
        layout,
        "select distinct creator_id from stg_pipeline__minute_aggregates where content_id = 'x1'",
    ) == [("u1",)]
    assert query_rows(
        layout,
        "select distinct creator_id from ad_placement_daily_performance where content_id = 'x1'",
    ) == [("u1",)]
    assert query_rows(
        layout,
        "select distinct content_title, duration_ms, creator_name from playback_sessions"
        " where content_id = 'c1'",
    ) == [("Director's cut", 60_000, "Renamed")]
    assert query_rows(
        layout, "select duration_ms from vod_clip_performance where content_id = 'c1'"
    ) == [(60_000,)]
    creator_names = query_rows(
        layout,
        "select day, creator_name from creator_daily_performance where creator_id = 'u1'"
        " order by day",
    )
    assert [name for _, name in creator_names] == ["Renamed"] * 3, creator_names


def test_a_view_that_moves_to_an_earlier_day_leaves_no_row_behind(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A late event moves a view's start to the day before: the content's row for the
    later day, whose only view that was, goes, as a full refresh has no such row."""
    layout = new_layout(tmp_path_factory.mktemp("moved_view") / "data")
    first_run(layout)
    second_run(layout)
    later_ms = NEXT_DAY_MINUTE * MS + 60_000
    land(layout, 3, {VIEW_SUMMARIES: [view_partial("s30", later_ms, later_ms, content_id="c3")]})
    dbt_build(layout, SECOND_NOW_MS)
    next_day = NEXT_DAY
    c3_days = "select view_date, views from content_daily_qoe where content_id = 'c3' order by 1"
    assert query_rows(layout, c3_days)[-1] == (next_day, 1)

    earlier_ms = (NEXT_DAY_MINUTE - 120) * MS  # 23:00 the day before
    late_partial = view_partial("s30", earlier_ms, earlier_ms, content_id="c3")
    land(layout, 4, {VIEW_SUMMARIES: [late_partial]})
    dbt_build(layout, SECOND_NOW_MS)

    assert [day for day, _ in query_rows(layout, c3_days)] == [next_day - datetime.timedelta(1)]
    assert_a_full_refresh_changes_nothing(layout, SECOND_NOW_MS, COMPARED, INCREMENTAL_MARTS)


def seal_quarantine_segment(layout: DataLayout, name: str, reasons: list[str]) -> None:
    """A sealed quarantine segment of one rejected event per reason, quarantined at MINUTE."""
    records = [
        {"quarantined_at_ms": MINUTE * MS, "app_id": "app", "reason": reason,
         "detail": "rejected", "payload": "{}", "index": index}
        for index, reason in enumerate(reasons)
    ]  # fmt: skip
    (layout.quarantine_dir / name).write_text("".join(json.dumps(r) + "\n" for r in records))


def test_each_quarantine_segment_is_read_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """stg_quarantine__rejections appends only the segments it has not read: a new segment
    adds its rejections once, a build with nothing new adds none, and the tables equal a
    full refresh."""
    layout = new_layout(tmp_path_factory.mktemp("quarantine") / "data")
    only = ("rejected_events_hourly",)
    seal_quarantine_segment(layout, "1000-a-000001.seg", ["unknown_type", "unknown_type"])
    dbt_build(layout, FIRST_NOW_MS, marts=only)
    seal_quarantine_segment(layout, "2000-b-000001.seg", ["too_old"])

    dbt_build(layout, SECOND_NOW_MS, marts=only)
    dbt_build(layout, SECOND_NOW_MS, marts=only)

    assert_a_full_refresh_changes_nothing(
        layout, SECOND_NOW_MS, only, ("stg_quarantine__rejections", *only)
    )
    counts = query_rows(
        layout, "select reason, rejected_events from rejected_events_hourly order by reason"
    )
    assert counts == [("too_old", 1), ("unknown_type", 2)]


QOE_DIMENSION_MODELS = ("dimension_daily_qoe", "dimension_minute_qoe")


def test_qoe_dimensions_fold_to_each_days_top_values_as_a_full_refresh_does(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With the top 2 values a day, devices c and d (one view each) report as other. A late
    earlier event gives d's view device c: c now ties a for the day's top, b becomes other
    and d has no view left. The incremental build rebuilds the day's rows, per day and per
    minute, as a full refresh writes them, and keeps no row of d. A day later by "now",
    the first day's minutes have left the minute mart's two-day window; its days stay."""
    layout = new_layout(tmp_path_factory.mktemp("qoe_top_values") / "data")
    start = MINUTE * MS
    first_day = datetime.datetime.fromtimestamp(MINUTE * 60, datetime.UTC).date()
    devices = {"q1": "a", "q2": "a", "q3": "b", "q4": "c", "q5": "d"}
    land(
        layout,
        1,
        {
            VIEW_SUMMARIES: [
                view_partial(session, start + index * MS, start + index * MS, device=device)
                for index, (session, device) in enumerate(devices.items())
            ]
        },
    )
    top_two = {"marquee_qoe_top_values": 2}
    dbt_build(layout, FIRST_NOW_MS, marts=QOE_DIMENSION_MODELS, **top_two)
    device_days = (
        "select dimension_value, views from dimension_daily_qoe"
        " where dimension = 'device' order by 1"
    )
    assert query_rows(layout, device_days) == [("a", 2), ("b", 1), ("other", 2)]

    late = view_partial("q5", start - MS, start - MS, device="c")
    next_day = view_partial("q6", NEXT_DAY_MINUTE * MS, NEXT_DAY_MINUTE * MS, device="e")
    land(layout, 2, {VIEW_SUMMARIES: [late, next_day]})
    dbt_build(layout, SECOND_NOW_MS, marts=QOE_DIMENSION_MODELS, **top_two)

    incremental = snapshot(layout, QOE_DIMENSION_MODELS)
    dbt_build(layout, SECOND_NOW_MS, "--full-refresh", marts=QOE_DIMENSION_MODELS, **top_two)
    assert incremental == snapshot(layout, QOE_DIMENSION_MODELS)
    assert query_rows(layout, device_days) == [("a", 2), ("c", 2), ("e", 1), ("other", 1)]
    minutes = query_rows(
        layout,
        "select epoch_minute - $minute, dimension_value, views from dimension_minute_qoe"
        " where dimension = 'device' and view_date = $day order by 1",
        {"minute": MINUTE, "day": first_day},
    )
    assert minutes == [(-1, "c", 1), (0, "a", 1), (1, "a", 1), (2, "other", 1), (3, "c", 1)]

    a_day_later_ms = SECOND_NOW_MS + 86_400_000
    dbt_build(layout, a_day_later_ms, marts=QOE_DIMENSION_MODELS, **top_two)
    incremental = snapshot(layout, QOE_DIMENSION_MODELS)
    dbt_build(layout, a_day_later_ms, "--full-refresh", marts=QOE_DIMENSION_MODELS, **top_two)
    assert incremental == snapshot(layout, QOE_DIMENSION_MODELS)
    minute_days = "select distinct view_date from dimension_minute_qoe"
    assert query_rows(layout, minute_days) == [(first_day + datetime.timedelta(days=1),)]
    assert query_rows(layout, device_days) == [("a", 2), ("c", 2), ("e", 1), ("other", 1)]
