"""The Snowflake sink's SQL, run against fakesnow.

No Snowflake account is reachable here, so fakesnow (a DuckDB-backed emulator of the
Snowflake connector and its SQL) stands in for the Snowflake service; everything else is
real: the golden scenario goes through local mode into a lake on disk, and each committed
run is written to "Snowflake" with the production sink code (DDL from the lake schemas,
write_pandas into temporary tables, delete + insert per run in one transaction).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import fakesnow
import polars as pl
import pytest

from marquee.lake import LAKE_TABLES, MINUTE_AGGREGATES, VIEW_SUMMARIES
from marquee.layout import DataLayout
from pipelines import aggregates, views
from pipelines.local_runner import LocalRunner
from pipelines.sinks.snowflake import (
    SnowflakeSink,
    export_lake_runs,
    identifier,
    lake_run_ids,
    lake_run_tables,
)
from pipelines.streaming import STREAM_BATCH_IDS_FROM
from tests.support.golden import load_scenario
from tests.support.segments import golden_log_lines, random_split, write_segments

pytestmark = pytest.mark.unit

ENV = {
    "MARQUEE_SNOWFLAKE_ACCOUNT": "test",
    "MARQUEE_SNOWFLAKE_USER": "test",
    "MARQUEE_SNOWFLAKE_PASSWORD": "test",
    "MARQUEE_SNOWFLAKE_DATABASE": "MARQUEE",
    "MARQUEE_SNOWFLAKE_SCHEMA": "MAIN",
}


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SnowflakeSink]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with (
        fakesnow.patch(create_database_on_connect=True, create_schema_on_connect=True),
        SnowflakeSink.from_env() as connected,
    ):
        yield connected


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> DataLayout:
    """The golden scenario through local mode, in several runs."""
    layout = DataLayout(tmp_path_factory.mktemp("lake"))
    lines, _ = golden_log_lines(load_scenario())
    write_segments(layout, random_split(lines, random.Random(5)))
    assert LocalRunner(layout, max_segments_per_run=1).drain() >= 2
    return layout


def committed_runs(layout: DataLayout) -> list[int]:
    return lake_run_ids(layout.lake_dir)


def load_all(sink: SnowflakeSink, layout: DataLayout) -> None:
    export_lake_runs(layout.lake_dir, sink, committed_runs(layout))


def snowflake_table(sink: SnowflakeSink, table: str) -> pl.DataFrame:
    columns = LAKE_TABLES[table].names
    with sink.connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(identifier(c) for c in columns)} FROM {identifier(table)}"
        )
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)


def lake_table(layout: DataLayout, table: str) -> pl.DataFrame:
    glob = str(layout.lake_table_dir(table) / "*.parquet")
    return pl.read_parquet(glob)


def sums(frame: pl.DataFrame) -> dict[str, int]:
    return {name: int(frame[name].sum()) for name in aggregates.MINUTE_MEASURES}


def test_rows_sum_to_the_lake_totals(sink: SnowflakeSink, lake: DataLayout) -> None:
    load_all(sink, lake)
    for table in LAKE_TABLES:
        assert snowflake_table(sink, table).height == lake_table(lake, table).height, table
    assert sums(snowflake_table(sink, MINUTE_AGGREGATES)) == sums(
        lake_table(lake, MINUTE_AGGREGATES)
    )
    _, expected = golden_log_lines(load_scenario())
    vod = snowflake_table(sink, MINUTE_AGGREGATES).filter(pl.col("content_id") == "vod_g_1")
    for measure, value in expected["vod_g_1"].items():
        assert vod[measure].sum() == value, measure
    merged = views.merge_view_partials(
        [snowflake_table(sink, VIEW_SUMMARIES).drop("run_id", "processed_at_ms")]
    )
    from_lake = views.merge_view_partials(
        [lake_table(lake, VIEW_SUMMARIES).drop("run_id", "processed_at_ms")]
    )
    assert merged.equals(from_lake)


def test_writing_the_same_runs_again_changes_nothing(sink: SnowflakeSink, lake: DataLayout) -> None:
    load_all(sink, lake)
    before = {table: snowflake_table(sink, table).sort(pl.all()) for table in LAKE_TABLES}
    load_all(sink, lake)
    load_all(sink, lake)
    for table in LAKE_TABLES:
        assert snowflake_table(sink, table).sort(pl.all()).equals(before[table]), table


def test_a_failed_attempt_leaves_nothing_and_the_retry_counts_once(
    sink: SnowflakeSink, lake: DataLayout
) -> None:
    run_id = committed_runs(lake)[0]
    processed_at_ms, tables = lake_run_tables(lake.lake_dir, run_id)
    broken = dict(tables)
    minutes = tables[MINUTE_AGGREGATES]
    broken[MINUTE_AGGREGATES] = minutes.with_columns(
        pl.lit(None, dtype=pl.Utf8).alias("content_id")  # NOT NULL in the table
    )
    with pytest.raises(Exception, match=r"(?i)null"):
        sink.write_batch(run_id, processed_at_ms, broken)
    for table in LAKE_TABLES:
        assert snowflake_table(sink, table).is_empty(), table

    sink.write_batch(run_id, processed_at_ms, tables)
    sink.write_batch(run_id, processed_at_ms, tables)
    assert sums(snowflake_table(sink, MINUTE_AGGREGATES)) == sums(minutes)


def test_streaming_batch_ids_fit_and_replace_only_their_own_rows(
    sink: SnowflakeSink, lake: DataLayout, tmp_path: Path
) -> None:
    load_all(sink, lake)
    run_id = committed_runs(lake)[0]
    _, tables = lake_run_tables(lake.lake_dir, run_id)
    pane = STREAM_BATCH_IDS_FROM + 12345
    sink.write_batch(pane, 1, {MINUTE_AGGREGATES: tables[MINUTE_AGGREGATES]})
    sink.write_batch(pane, 2, {MINUTE_AGGREGATES: tables[MINUTE_AGGREGATES]})
    stored = snowflake_table(sink, MINUTE_AGGREGATES)
    assert stored.filter(pl.col("run_id") == pane)["processed_at_ms"].unique().to_list() == [2]
    lake_sums = sums(lake_table(lake, MINUTE_AGGREGATES))
    pane_sums = sums(tables[MINUTE_AGGREGATES])
    assert sums(stored) == {name: lake_sums[name] + pane_sums[name] for name in lake_sums}
