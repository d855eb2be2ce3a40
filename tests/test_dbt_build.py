"""The dbt project, built for real on small Parquet run files in a temporary data directory.

Each scenario (good data, and data each dbt test must reject) is built once, concurrently,
in its own data directory; the tests read the marts and dbt's run_results.json. The good
data is also built on the Snowflake target against fakesnow (Snowflake SQL run on DuckDB),
which checks that the models only use SQL both warehouses accept and that both give the
same mart.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from dashboards.queries import creators as creator_queries
from marquee.catalog_files import write_catalogue
from marquee.lake import (
    AD_PLAYS,
    LAKE_TABLES,
    MINUTE_AGGREGATES,
    MINUTE_AGGREGATES_SCHEMA,
    TIP_MINUTE_AGGREGATES,
    VIEW_SUMMARIES,
    ensure_lake,
    write_table_atomically,
)
from marquee.layout import DataLayout
from pipelines.aggregates import MINUTE_MEASURES
from refresh.dbt_cli import (
    DBT_PROJECT_DIR,
    DbtBuildResult,
    dbt_command,
    dbt_environment,
    run_dbt_build,
)
from tests.support import REPO_ROOT
from tests.support.build_stamps import is_build_stamp
from tests.support.impression_scenario import at, day_d
from tests.support.lake_rows import ad_play, view_partial

pytestmark = pytest.mark.integration

# The scenario's day is two UTC days before the session's (taken once): every time in it is
# past, and its views lie before the two-day window of dimension_minute_qoe on any date.
DAY = day_d()
NEXT_DAY = DAY + dt.timedelta(days=1)
LAST_MINUTE_OF_DAY = at(DAY, 23, 59) // 60_000
FIRST_MINUTE_OF_NEXT_DAY = LAST_MINUTE_OF_DAY + 1  # NEXT_DAY 00:00 UTC
LAST_MINUTE_START_AT = dt.datetime.combine(DAY, dt.time(23, 59))
NEXT_DAY_START_AT = dt.datetime.combine(NEXT_DAY, dt.time())

MEASURES = tuple(MINUTE_MEASURES)


def minute_row(epoch_minute: int, content_id: str, platform: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "epoch_minute": epoch_minute,
        "content_id": content_id,
        "creator_id": f"creator-of-{content_id}",
        "content_type": "vod",
        "platform": platform,
        "country": "DE",
    }
    row.update(dict.fromkeys(MEASURES, 0))
    row.update(values)
    return row


def land_run(layout: DataLayout, run_id: int, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        row.update(run_id=run_id, processed_at_ms=run_id * 1000)
    table = pa.Table.from_pylist(rows, schema=MINUTE_AGGREGATES_SCHEMA)
    write_table_atomically(
        table, layout.lake_table_dir(MINUTE_AGGREGATES) / f"run-{run_id:06d}.parquet"
    )


def new_layout(root: Path) -> DataLayout:
    layout = DataLayout(root).ensure()
    ensure_lake(layout)
    return layout


def last_run_results(layout: DataLayout) -> list[dict[str, Any]]:
    """Per-node results of the last dbt invocation (target/run_results.json)."""
    run_results = layout.dbt_artifacts / "target" / "run_results.json"
    results: list[dict[str, Any]] = json.loads(run_results.read_text())["results"]
    return results


def failed_dbt_tests(layout: DataLayout) -> set[str]:
    """Names of the data/unit tests that failed or errored in the last dbt invocation."""
    return {
        result["unique_id"].split(".")[2]
        for result in last_run_results(layout)
        if result["unique_id"].startswith(("test.", "unit_test."))
        and result["status"] in ("fail", "error")
    }


def failed_rules(layout: DataLayout) -> dict[str, set[str]]:
    """The rules each failed `row_rules` test reports (its `failed_check` rows), from the
    test's compiled SQL run again on the warehouse, as a user reads a failure."""
    failed = [
        result
        for result in last_run_results(layout)
        if result["unique_id"].startswith("test.marquee.row_rules_") and result["status"] == "fail"
    ]
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        return {
            result["unique_id"].split(".")[2]: {
                check for (check, _rows) in connection.sql(result["compiled_code"]).fetchall()
            }
            for result in failed
        }


def query(layout: DataLayout, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        relation = connection.sql(sql)
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def land_good_runs(layout: DataLayout) -> None:
    land_run(
        layout,
        1,
        [
            minute_row(
                LAST_MINUTE_OF_DAY,
                "c1",
                "web",
                attempts=2,
                starts=1,
                played_ms=30_000,
                stalled_ms=500,
                stall_count=1,
                seek_ms=200,
                startup_ms_sum=800,
            ),
            minute_row(
                LAST_MINUTE_OF_DAY,
                "c2",
                "ios",
                content_type="live",
                country="US",
                attempts=1,
                starts=1,
                fatal_errors=1,
                startup_ms_sum=1_500,
            ),
        ],
    )
    land_run(
        layout,
        2,
        [
            # The same grain key as run 1's first row: its measures add up.
            minute_row(
                LAST_MINUTE_OF_DAY,
                "c1",
                "web",
                attempts=1,
                starts=2,
                played_ms=20_000,
                startup_ms_sum=700,
            ),
            minute_row(LAST_MINUTE_OF_DAY, "c1", "android", attempts=1, fatal_errors=1),
            minute_row(
                FIRST_MINUTE_OF_NEXT_DAY,
                "c1",
                "web",
                played_ms=60_000,
                stalled_ms=1_000,
                stall_count=2,
            ),
        ],
    )


DAY_START_MS = at(DAY, 0, 0)


def land_views_catalogue_and_rejections(layout: DataLayout) -> None:
    """Views of c1 and c2 (two runs, one view resumed across them), their catalogue, and
    one quarantine segment: enough for every mart to hold rows on both targets."""
    start = DAY_START_MS + 3_600_000
    runs = {
        1: [
            view_partial("v1", start, start + 40_000, play_requested_ms=start, started=True,
                         started_at_ms=start + 700, startup_ms=700, played_ms=30_000,
                         stalled_ms=1_000, stall_count=1, ended=True,
                         ended_at_ms=start + 40_000, end_reason="completed",
                         max_playhead_ms=30_000, bitrate_weighted=66_000_000, event_count=5),
            view_partial("v2", start + 5_000, start + 20_000, play_requested_ms=start + 5_000,
                         started=True, started_at_ms=start + 5_400, startup_ms=400,
                         played_ms=10_000, max_playhead_ms=10_000, event_count=3),
            view_partial("v3", start + 6_000, start + 7_000, play_requested_ms=start + 6_000,
                         failed=True, event_count=2),
        ],
        2: [
            view_partial("v2", start + 100_000, start + 110_000, played_ms=5_000,
                         max_playhead_ms=15_000, ended=True, ended_at_ms=start + 110_000,
                         end_reason="user_exit", event_count=2),
            view_partial("v4", start + 9_000, start + 9_500, play_requested_ms=start + 9_000,
                         content_id="c2", content_type="live", event_count=1),
        ],
    }  # fmt: skip
    for run_id, rows in runs.items():
        for row in rows:
            row.update(run_id=run_id, processed_at_ms=run_id * 1000)
        write_table_atomically(
            pa.Table.from_pylist(rows, schema=LAKE_TABLES[VIEW_SUMMARIES]),
            layout.lake_table_dir(VIEW_SUMMARIES) / f"run-{run_id:06d}.parquet",
        )
    write_catalogue(
        layout.catalog_dir,
        [
            {"creator_id": "creator-of-c1", "name": "One"},
            {"creator_id": "creator-of-c2", "name": "Two"},
        ],
        [
            {"content_id": "c1", "creator_id": "creator-of-c1", "content_type": "vod",
             "duration_ms": 30_000,
             "published_at": f"{DAY - dt.timedelta(days=5)}T10:00:00.000Z"},
            {"content_id": "c2", "creator_id": "creator-of-c2", "content_type": "live",
             "published_at": f"{DAY}T12:00:00.000+01:00"},
        ],
    )  # fmt: skip
    rejection = {"quarantined_at_ms": start, "app_id": "app", "reason": "unknown_type",
                 "detail": "bad type", "payload": "{}", "index": 0}  # fmt: skip
    (layout.quarantine_dir / "000001.seg").write_text(json.dumps(rejection) + "\n")


def land_negative_measure_and_unknown_content_type(layout: DataLayout) -> None:
    land_run(
        layout,
        1,
        [
            minute_row(LAST_MINUTE_OF_DAY, "c1", "web", attempts=1, played_ms=-5),
            minute_row(LAST_MINUTE_OF_DAY, "c2", "web", attempts=1, content_type="podcast"),
        ],
    )


def land_an_impossible_view(layout: DataLayout) -> None:
    """One view no correct pipeline writes: its first event after its last, less than
    nothing played, and in a run file without the viewer_key column (as a file from a
    broken writer would be), so the lake reads its viewer as NULL."""
    start = LAST_MINUTE_OF_DAY * 60_000
    row = view_partial(
        "broken", start + 1_000, start, play_requested_ms=start + 1_000,
        started=True, started_at_ms=start + 100, startup_ms=100, played_ms=-200,
        stalled_ms=1_000, event_count=1, run_id=1, processed_at_ms=1_000,
    )  # fmt: skip
    del row["viewer_key"]
    schema = LAKE_TABLES[VIEW_SUMMARIES]
    without_viewer = schema.remove(schema.get_field_index("viewer_key"))
    write_table_atomically(
        pa.Table.from_pylist([row], schema=without_viewer),
        layout.lake_table_dir(VIEW_SUMMARIES) / "run-000001.parquet",
    )


def land_content_with_two_creators(layout: DataLayout) -> None:
    land_run(
        layout,
        1,
        [
            minute_row(LAST_MINUTE_OF_DAY, "c1", "web", attempts=1, creator_id="u1"),
            minute_row(LAST_MINUTE_OF_DAY, "c1", "ios", attempts=1, creator_id="u2"),
        ],
    )


def land_a_run_before_its_commit(layout: DataLayout) -> None:
    """Run 2 has landed its file but the ledger has not committed it: the status file the
    pipeline writes after each commit still names run 1."""
    land_run(layout, 1, [minute_row(LAST_MINUTE_OF_DAY, "c1", "web", attempts=1)])
    land_run(layout, 2, [minute_row(LAST_MINUTE_OF_DAY, "c1", "web", attempts=5, played_ms=-5)])
    layout.pipeline_status.parent.mkdir(parents=True, exist_ok=True)
    layout.pipeline_status.write_text(json.dumps({"runs_committed": 1, "last_run_id": 1}))


def land_ad_plays_and_tips(layout: DataLayout) -> None:
    """c1's pre-roll ad a1 makes its impression a second before midnight, reaches 25 % in
    run 1 and 50 % and a skip after midnight in run 2; a mid-roll overlay ad a2 the next
    day shows its quartile in run 1 and its impression in run 2. Tips in EUR and USD."""
    midnight = FIRST_MINUTE_OF_NEXT_DAY * 60_000
    c1 = {"content_id": "c1", "creator_id": "creator-of-c1"}
    mid = {**c1, "position": "mid"}
    tips = [
        {"epoch_minute": LAST_MINUTE_OF_DAY, "creator_id": "creator-of-c1", "currency": cur,
         "tips": count, "tips_amount_minor": amount}
        for cur, count, amount in (("EUR", 2, 700), ("USD", 1, 300))
    ]  # fmt: skip
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {
        1: {
            AD_PLAYS: [
                ad_play("p1", "a1", midnight - 1_000, True, reached_q25=True, **c1),
                ad_play("p2", "a2", midnight + 20_000, False, ad_format="overlay",
                        reached_q25=True, **mid),
            ],
            TIP_MINUTE_AGGREGATES: tips,
        },
        2: {
            AD_PLAYS: [
                ad_play("p1", "a1", midnight + 2_000, False, reached_q50=True, skipped=True,
                        **c1),
                ad_play("p2", "a2", midnight + 10_000, True, clicked=True, **mid),
            ],
        },
    }  # fmt: skip
    for run_id, tables in runs.items():
        for table, rows in tables.items():
            for row in rows:
                row.update(run_id=run_id, processed_at_ms=run_id * 1000)
            write_table_atomically(
                pa.Table.from_pylist(rows, schema=LAKE_TABLES[table]),
                layout.lake_table_dir(table) / f"run-{run_id:06d}.parquet",
            )


def land_good_data(layout: DataLayout) -> None:
    land_good_runs(layout)
    land_views_catalogue_and_rejections(layout)
    land_ad_plays_and_tips(layout)


SCENARIOS: dict[str, Callable[[DataLayout], None]] = {
    "good": land_good_data,
    "negative_measure_and_unknown_content_type": land_negative_measure_and_unknown_content_type,
    "content_with_two_creators": land_content_with_two_creators,
    "impossible_view": land_an_impossible_view,
    "run_landed_before_its_commit": land_a_run_before_its_commit,
}


SNOWFLAKE_OUTPUTS = (
    "content_daily_performance",
    "stg_catalog__content",
    "playback_sessions",
    "content_minute_qoe",
    "content_daily_qoe",
    "dimension_daily_qoe",
    "dimension_minute_qoe",
    "vod_clip_performance",
    "vod_clip_retention",
    "ad_placement_daily_performance",
    "ad_daily_performance",
    "ad_position_daily_performance",
    "content_daily_ad_performance",
    "creator_daily_ad_performance",
    "creator_daily_performance",
    "creator_daily_tips",
    "live_sessions",
    "rejected_events_hourly",
    "pipeline_dead_letters",
)
"""Marts compared between the targets (source_freshness is left out: it reads the clock)."""


def build_on_snowflake_emulator(layout: DataLayout) -> subprocess.CompletedProcess[str]:
    """`dbt build --target snowflake` against fakesnow over the same data directory
    (tests/support/dbt_snowflake_driver.py); the marts land as JSON under <data dir>/snowflake/."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.dbt_snowflake_driver",
            str(layout.root),
            str(layout.root / "snowflake"),
            *SNOWFLAKE_OUTPUTS,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def builds(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[DataLayout, DbtBuildResult]]:
    """Every scenario built once, concurrently (dbt's start-up dominates a small build)."""
    layouts = {name: new_layout(tmp_path_factory.mktemp(name)) for name in SCENARIOS}
    for name, land in SCENARIOS.items():
        land(layouts[name])
    with ThreadPoolExecutor(max_workers=len(layouts) + 1) as pool:
        snowflake = pool.submit(build_on_snowflake_emulator, layouts["good"])
        results = dict(zip(layouts, pool.map(run_dbt_build, layouts.values()), strict=True))
        snowflake_build = snowflake.result()
    built = {name: (layouts[name], results[name]) for name in layouts}
    built["good_on_snowflake"] = (
        layouts["good"],
        DbtBuildResult(
            success=snowflake_build.returncode == 0,
            returncode=snowflake_build.returncode,
            duration_s=0.0,
            output=snowflake_build.stdout + snowflake_build.stderr,
        ),
    )
    return built


@pytest.fixture(scope="module")
def built(builds: dict[str, tuple[DataLayout, DbtBuildResult]]) -> DataLayout:
    layout, result = builds["good"]
    assert result.success, result.output
    return layout


def test_build_runs_every_model_unit_test_and_data_test(built: DataLayout) -> None:
    statuses = {result["unique_id"]: result["status"] for result in last_run_results(built)}
    assert statuses["model.marquee.stg_pipeline__minute_aggregates"] == "success"
    assert statuses["model.marquee.content_daily_performance"] == "success"
    unit_tests = [uid for uid in statuses if uid.startswith("unit_test.")]
    data_tests = [uid for uid in statuses if uid.startswith("test.")]
    assert {uid.rsplit(".", 1)[1] for uid in unit_tests} >= {
        "test_stg_minute_aggregates_sums_runs_and_places_minutes_in_utc_days",
        "test_stg_minute_aggregates_resolves_a_missing_creator_into_one_row_per_key",
        "test_stg_view_summaries_merges_partials_like_merge_view_partials",
        "test_content_daily_performance_sums_minutes_into_utc_days_and_derives_watched_ms",
    }
    assert len(data_tests) > 40
    assert {statuses[uid] for uid in unit_tests + data_tests} == {"pass"}


def test_staging_sums_the_same_grain_key_across_run_files(built: DataLayout) -> None:
    rows = query(
        built,
        "select * from main.stg_pipeline__minute_aggregates "
        "where content_id = 'c1' and platform = 'web' order by epoch_minute",
    )
    assert len(rows) == 2
    first = rows[0]
    assert first["epoch_minute"] == LAST_MINUTE_OF_DAY
    assert first["minute_start_at"] == LAST_MINUTE_START_AT
    assert first["minute_date"] == DAY
    assert (first["attempts"], first["starts"], first["played_ms"]) == (3, 3, 50_000)
    assert first["startup_ms_sum"] == 1_500
    assert first["last_processed_at_ms"] == 2_000
    assert rows[1]["minute_start_at"] == NEXT_DAY_START_AT
    assert rows[1]["minute_date"] == NEXT_DAY


def test_content_daily_has_exactly_the_agreed_columns(built: DataLayout) -> None:
    columns = query(
        built,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = 'content_daily_performance' "
        "order by ordinal_position",
    )
    assert [(c["column_name"], c["data_type"]) for c in columns] == [
        ("day", "DATE"),
        ("content_id", "VARCHAR"),
        ("creator_id", "VARCHAR"),
        ("content_type", "VARCHAR"),
        ("play_requests", "BIGINT"),
        ("starts", "BIGINT"),
        ("fatal_errors", "BIGINT"),
        ("played_ms", "BIGINT"),
        ("stalled_ms", "BIGINT"),
        ("stall_count", "BIGINT"),
        ("seek_ms", "BIGINT"),
        ("startup_ms_sum", "BIGINT"),
        ("watched_ms", "BIGINT"),
        ("peak_concurrent_viewers", "DOUBLE"),
        ("last_minute_start_at", "TIMESTAMP"),
        ("built_at_ms", "BIGINT"),
    ]
    table_type = query(
        built,
        "select table_type from information_schema.tables "
        "where table_schema = 'main' and table_name = 'content_daily_performance'",
    )
    assert table_type == [{"table_type": "BASE TABLE"}]


def test_every_views_column_counts_playback_sessions(built: DataLayout) -> None:
    """A view is one playback session, on the day of its start (METRICS.md): every `views`
    column counts the rows of the playback_sessions mart, and the Creators dashboard shows the same
    number. The good data has 4 sessions (v1..v3 of c1, v4 of the live c2); its minutes,
    landed apart from them, hold 5 play requests, which content_daily_performance names for what
    they are."""
    assert query(built, "select count(*) as sessions from main.playback_sessions") == [
        {"sessions": 4}
    ]
    assert query(built, "select sum(play_requests) as n from main.content_daily_performance") == [
        {"n": 5}
    ]
    for mart in ("content_daily_qoe", "creator_daily_performance"):
        assert query(built, f"select sum(views) as n from main.{mart}") == [{"n": 4}], mart
    assert query(built, "select content_id, views from main.vod_clip_performance") == [
        {"content_id": "c1", "views": 3}
    ]
    assert query(built, "select live_id, views, play_requests from main.live_sessions") == [
        {"live_id": "c2", "views": 1, "play_requests": 1}
    ]
    with duckdb.connect(str(built.dbt_db), read_only=True) as connection:
        dashboard = connection.execute(
            creator_queries.LEADERBOARD_SQL, [DAY, NEXT_DAY, None, None]
        ).fetchall()
    assert [(creator, views) for creator, views, *_ in dashboard] == [
        ("creator-of-c1", 3),
        ("creator-of-c2", 1),
    ]


def test_content_daily_sums_runs_platforms_and_minutes_per_utc_day(built: DataLayout) -> None:
    rows = query(
        built,
        "select * exclude (built_at_ms) from main.content_daily_performance "
        "order by day, content_id",
    )
    assert rows == [
        {
            "day": DAY,
            "content_id": "c1",
            "creator_id": "creator-of-c1",
            "content_type": "vod",
            "play_requests": 4,
            "starts": 3,
            "fatal_errors": 1,
            "played_ms": 50_000,
            "stalled_ms": 500,
            "stall_count": 1,
            "seek_ms": 200,
            "startup_ms_sum": 1_500,
            "watched_ms": 1_500 + 50_000 + 500 + 200,
            "peak_concurrent_viewers": (50_000 + 500) / 60_000,
            "last_minute_start_at": LAST_MINUTE_START_AT,
        },
        {
            "day": DAY,
            "content_id": "c2",
            "creator_id": "creator-of-c2",
            "content_type": "live",
            "play_requests": 1,
            "starts": 1,
            "fatal_errors": 1,
            "played_ms": 0,
            "stalled_ms": 0,
            "stall_count": 0,
            "seek_ms": 0,
            "startup_ms_sum": 1_500,
            "watched_ms": 1_500,
            "peak_concurrent_viewers": 0.0,
            "last_minute_start_at": LAST_MINUTE_START_AT,
        },
        {
            "day": NEXT_DAY,
            "content_id": "c1",
            "creator_id": "creator-of-c1",
            "content_type": "vod",
            "play_requests": 0,
            "starts": 0,
            "fatal_errors": 0,
            "played_ms": 60_000,
            "stalled_ms": 1_000,
            "stall_count": 2,
            "seek_ms": 0,
            "startup_ms_sum": 0,
            "watched_ms": 61_000,
            "peak_concurrent_viewers": (60_000 + 1_000) / 60_000,
            "last_minute_start_at": NEXT_DAY_START_AT,
        },
    ]


def test_ad_plays_count_on_their_impressions_day_whatever_the_run(built: DataLayout) -> None:
    """Staging merges each play's partials of both runs; a1's quartiles and skip after
    midnight count with its impression the day before, and a2, its quartile in run 1 and
    its impression in run 2, counts once, with its impression, the next day."""
    rows = query(
        built,
        "select day, ad_id, position, ad_format, ad_impressions, ad_q25, ad_q50, ad_skips,"
        " ad_clicks, ad_plays_without_impression, q25_reach_pct, skip_rate_pct, ctr_pct"
        " from main.ad_placement_daily_performance order by day",
    )
    assert [tuple(row.values()) for row in rows] == [
        (DAY, "a1", "pre", "linear", 1, 1, 1, 1, 0, 0, 100.0, 100.0, 0.0),
        (NEXT_DAY, "a2", "mid", "overlay", 1, 1, 0, 0, 1, 0, 100.0, 0.0, 100.0),
    ]
    tips = query(
        built,
        "select day, currency, tips, tips_amount_minor from main.creator_daily_tips order by 2",
    )
    assert [tuple(row.values()) for row in tips] == [(DAY, "EUR", 2, 700), (DAY, "USD", 1, 300)]


def test_a_quartile_reach_above_100_pct_fails_the_build(built: DataLayout, tmp_path: Path) -> None:
    """Reach above 100 % is an error, not a warning: a copy of the good warehouse whose
    ad mart counts more plays at 25 % than impressions fails its row rules."""
    layout = DataLayout(tmp_path / "data")
    shutil.copytree(built.root, layout.root)
    with duckdb.connect(str(layout.dbt_db)) as connection:
        connection.execute(
            "update main.ad_placement_daily_performance"
            " set ad_q25 = 2, q25_reach_pct = 200.0 where ad_id = 'a1'"
        )
    completed = subprocess.run(
        dbt_command(layout, "test", "--select", "ad_placement_daily_performance"),
        cwd=DBT_PROJECT_DIR, env=dbt_environment(layout), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert completed.returncode != 0
    assert failed_rules(layout) == {
        "row_rules_ad_placement_daily_performance": {
            "between 0 and 100: q25_reach_pct",
            "rule: ad_q100 <= ad_impressions and ad_q25 <= ad_impressions",
        }
    }


def test_negative_measure_and_unknown_content_type_fail_the_build(
    builds: dict[str, tuple[DataLayout, DbtBuildResult]],
) -> None:
    layout, result = builds["negative_measure_and_unknown_content_type"]
    assert not result.success
    assert result.returncode != 0
    assert failed_dbt_tests(layout) == {"row_rules_stg_pipeline__minute_aggregates"}
    assert failed_rules(layout) == {
        "row_rules_stg_pipeline__minute_aggregates": {
            "non_negative: played_ms",
            "accepted_values: content_type",
        }
    }


def test_row_rules_names_each_rule_a_view_breaks(
    builds: dict[str, tuple[DataLayout, DbtBuildResult]],
) -> None:
    """row_rules reports each rule the view breaks in staging: no viewer (not_null), its
    first event after its last (a business rule) and negative play time (non_negative)."""
    layout, result = builds["impossible_view"]
    assert not result.success
    assert failed_dbt_tests(layout) == {"row_rules_stg_pipeline__view_summaries"}
    assert failed_rules(layout) == {
        "row_rules_stg_pipeline__view_summaries": {
            "not_null: viewer_key",
            "rule: first_event_ms <= last_event_ms",
            "non_negative: played_ms",
        }
    }


def test_a_repeated_key_fails_its_primary_key_test(built: DataLayout, tmp_path: Path) -> None:
    """row_rules' `unique` groups by a hash of the key first: a key written twice still
    fails it, with the key's two rows (a copy of the good warehouse, one row of a
    two-column and one of a four-column grain written again)."""
    layout = DataLayout(tmp_path / "data")
    shutil.copytree(built.root, layout.root)
    with duckdb.connect(str(layout.dbt_db)) as connection:
        for table in ("content_daily_performance", "stg_pipeline__minute_aggregates"):
            connection.execute(
                f"insert into main.{table} select * from main.{table} order by all limit 1"
            )
    completed = subprocess.run(
        dbt_command(
            layout, "test", "--select", "content_daily_performance",
            "stg_pipeline__minute_aggregates",
        ),
        cwd=DBT_PROJECT_DIR, env=dbt_environment(layout), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert completed.returncode != 0
    assert failed_dbt_tests(layout) == {
        "row_rules_content_daily_performance",
        "row_rules_stg_pipeline__minute_aggregates",
    }
    assert failed_rules(layout) == {
        "row_rules_content_daily_performance": {"unique: day, content_id"},
        "row_rules_stg_pipeline__minute_aggregates": {
            "unique: epoch_minute, content_id, platform, country"
        },
    }
    with duckdb.connect(str(layout.dbt_db), read_only=True) as connection:
        failing_rows = [
            rows
            for result in last_run_results(layout)
            if result["status"] == "fail"
            for (_check, rows) in connection.sql(result["compiled_code"]).fetchall()
        ]
    assert failing_rows == [2, 2]


def test_content_whose_events_name_two_creators_keeps_one_row_and_warns(
    builds: dict[str, tuple[DataLayout, DbtBuildResult]],
) -> None:
    """The creator is an attribute of the content, not part of the grain: the mart keeps
    one row per content and day, and the contradiction is reported as a warning on the
    source (the catalogue, not the events, is the system of record)."""
    layout, result = builds["content_with_two_creators"]
    assert result.success, result.output
    warned = {
        r["unique_id"].split(".")[2] for r in last_run_results(layout) if r["status"] == "warn"
    }
    contract = "source_one_value_per_key_pipeline_minute_aggregates_creator_id____content_id"
    assert contract in warned
    # The scenario has no catalogue: the marts' catalogue relationships warn too, nothing else.
    assert all(name.startswith("relationships_") for name in warned - {contract})
    assert query(
        layout, "select creator_id, play_requests from main.content_daily_performance"
    ) == [{"creator_id": "u2", "play_requests": 2}]


def test_snowflake_target_builds_the_same_mart(
    builds: dict[str, tuple[DataLayout, DbtBuildResult]], built: DataLayout
) -> None:
    _, result = builds["good_on_snowflake"]
    assert result.success, result.output
    for table in SNOWFLAKE_OUTPUTS:
        on_snowflake = json.loads((built.root / "snowflake" / f"{table}.json").read_text())
        on_duckdb = sorted(
            json.loads(json.dumps(query(built, f"select * from main.{table}"), default=str)),
            key=lambda row: json.dumps(row, sort_keys=True),
        )
        # When the build that wrote (or read) a row started: the builds ran at other times.
        assert [without_build_stamp(row) for row in on_snowflake] == [
            without_build_stamp(row) for row in on_duckdb
        ], table


def without_build_stamp(row: dict[str, Any]) -> dict[str, Any]:
    return {column: value for column, value in row.items() if not is_build_stamp(column)}


def test_a_build_reads_only_the_runs_the_pipeline_has_committed(
    builds: dict[str, tuple[DataLayout, DbtBuildResult]],
) -> None:
    """Run 2's file is visible before its commit; the build leaves it out whole (its
    negative measure would fail a test), so every table of one build holds the same runs."""
    layout, result = builds["run_landed_before_its_commit"]
    assert result.success, result.output
    assert query(
        layout, "select content_id, play_requests from main.content_daily_performance"
    ) == [{"content_id": "c1", "play_requests": 1}]
    assert query(layout, "select last_committed_run_id from main.stg_pipeline__committed_runs") == [
        {"last_committed_run_id": 1}
    ]
    # The serving view over the lake shows every landed run, committed or not.
    assert query(
        layout, "select sum(attempts) as attempts from main.stg_pipeline__minute_aggregates_live"
    ) == [{"attempts": 6}]


def test_every_data_test_of_an_incremental_model_checks_the_rows_its_build_wrote(
    built: DataLayout,
) -> None:
    """The scope of an incremental model's data tests is explicit, per test: dbt's `where`
    config with the placeholder macros/test_window.sql resolves. A test without it would
    re-read the model's whole history on every build; a table model's test must not
    carry it (its rows are all rewritten and tested by every build anyway)."""
    manifest = json.loads((built.dbt_artifacts / "target" / "manifest.json").read_text())
    nodes = manifest["nodes"].values()
    incremental = {
        node["unique_id"]
        for node in nodes
        if node["resource_type"] == "model" and node["config"]["materialized"] == "incremental"
    }
    scoped = {
        node["name"]: node.get("attached_node") in incremental
        for node in nodes
        if node["resource_type"] == "test"
        and node["config"].get("where") == "__rows_written_by_this_build__"
    }
    tests_of_incremental = {
        node["name"]
        for node in nodes
        if node["resource_type"] == "test" and node.get("attached_node") in incremental
    }
    assert len(tests_of_incremental) > 40
    assert set(scoped) == tests_of_incremental
    assert all(scoped.values())
