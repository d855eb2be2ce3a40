"""Impressions and the view's surface through the pipeline (issue 23, feed click-through).

The scenario (`tests.support.impression_scenario`) goes through the real validation and
enrichment into log lines, then through local mode in two runs (the second brings a view's
late `play_requested`) and through the streaming graph under TestStream: both land the
same `impression_minute_aggregates` (impressions per minute, content and surface, a
retried copy counted once) and the same `view_summaries.surface`. The partials merge alike
whatever the split of the records.
"""

from __future__ import annotations

import json
import random
import time
from datetime import date
from pathlib import Path

import apache_beam as beam
import polars as pl
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue
from polars.testing import assert_frame_equal

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.lake import (
    IMPRESSION_MINUTE_AGGREGATES,
    MINUTE_AGGREGATES,
    VIEW_SUMMARIES,
    ensure_lake,
)
from marquee.layout import DataLayout
from pipelines import aggregates, records, views
from pipelines.local_runner import LocalRunner
from pipelines.streaming import LakeSink, StreamingAggregates, StreamingConfig, WritePanes
from pipelines.transforms import MERGES
from tests.support.impression_scenario import DAY_MS, EXPECTED_IMPRESSIONS_LAKE, day_d, scenario
from tests.support.segments import write_segments

pytestmark = pytest.mark.unit


def log_lines(events: list[dict[str, object]]) -> list[bytes]:
    enricher = Enricher(Pseudonymiser(b"k"), future_horizon_s=300, lateness_horizon_s=7 * 86400)
    raw = [json.dumps(event).encode() for event in events]
    result = ingest_events(raw, None, "app", int(time.time() * 1000), None, enricher)
    assert result.accepted == len(raw), result.rejected
    return bytes(result.log_bytes).splitlines(keepends=True)


def merged(layout: DataLayout, table: str) -> pl.DataFrame:
    files = pl.read_parquet(str(layout.lake_table_dir(table) / "*.parquet"))
    return MERGES[table]([files.drop("run_id", "processed_at_ms")])


def impressions_by_day(frame: pl.DataFrame) -> dict[tuple[int, str, str, str], int]:
    d_epoch_day = (day_d() - date(1970, 1, 1)).days
    rows = frame.group_by(
        (pl.col("epoch_minute") * 60_000 // DAY_MS - d_epoch_day).alias("day"),
        "content_id",
        "surface",
        "creator_id",
    ).agg(pl.col("impressions").sum())
    return {(day, c, s, cr): int(n) for day, c, s, cr, n in rows.iter_rows()}


def surfaces(view_frame: pl.DataFrame) -> dict[str, int]:
    """Views per content and surface, as `content:surface` (`None` without a surface)."""
    counts = view_frame.group_by("content_id", "surface").len()
    return {f"{c}:{s}": int(n) for c, s, n in counts.iter_rows()}


EXPECTED_SURFACES = {
    "vod_a1:feed": 2,
    "vod_a1:search": 1,
    "vod_a1:profile": 1,
    "vod_a1:None": 1,
    "clip_a2:profile": 2,
    "vod_b1:tray": 3,
    "vod_b1:feed": 1,
}


@pytest.fixture(scope="module")
def lines() -> tuple[list[bytes], list[bytes]]:
    on_time, late = scenario()
    return log_lines(on_time), log_lines(late)


def run_local(root: Path, lines: tuple[list[bytes], list[bytes]]) -> DataLayout:
    on_time, late = lines
    layout = DataLayout(root)
    shuffled = on_time[:]
    random.Random(5).shuffle(shuffled)
    write_segments(layout, [shuffled[:20], shuffled[20:]])
    LocalRunner(layout).drain()
    write_segments(layout, [late], start=10)
    LocalRunner(layout).drain()
    return layout


def test_local_mode_counts_impressions_per_surface_and_keeps_the_view_surface(
    tmp_path: Path, lines: tuple[list[bytes], list[bytes]]
) -> None:
    layout = run_local(tmp_path, lines)
    impressions = merged(layout, IMPRESSION_MINUTE_AGGREGATES)
    assert impressions_by_day(impressions) == EXPECTED_IMPRESSIONS_LAKE
    minutes = merged(layout, MINUTE_AGGREGATES)
    measures = pl.sum_horizontal(aggregates.MINUTE_MEASURES)
    assert minutes.filter(measures == 0).is_empty(), (
        "impressions add no rows of zeros to minute_aggregates"
    )
    view_frame = merged(layout, VIEW_SUMMARIES)
    assert surfaces(view_frame) == EXPECTED_SURFACES
    late_tray = view_frame.filter(pl.col("surface") == "tray")
    assert late_tray.height == 3 and late_tray["play_requested_ms"].null_count() == 0


def test_streaming_lands_what_local_mode_lands(
    tmp_path: Path, lines: tuple[list[bytes], list[bytes]]
) -> None:
    on_time, late = lines
    layout = DataLayout(tmp_path / "stream")
    ensure_lake(layout)

    def stamped(batch: list[bytes]) -> list[TimestampedValue]:
        return [TimestampedValue(line, json.loads(line)["event_time_ms"] / 1000) for line in batch]

    first = min(json.loads(line)["event_time_ms"] for line in on_time)
    stream = (
        TestStream()
        .advance_watermark_to(first / 1000 - 1)
        .add_elements(stamped(on_time))
        .advance_processing_time(30)
        .add_elements(stamped(late))
        .advance_watermark_to_infinity()
    )
    config = StreamingConfig(
        allowed_lateness_s=3600, dedup_window_s=3600, early_firing_s=10, shards=2
    )
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)
    outputs = pipeline | stream | "Aggregate" >> StreamingAggregates(config)
    outputs["panes"] | "WritePanes" >> beam.ParDo(WritePanes(LakeSink(str(layout.lake_dir))))
    pipeline.run().wait_until_finish()

    local = run_local(tmp_path / "local", lines)
    for table in (IMPRESSION_MINUTE_AGGREGATES, VIEW_SUMMARIES):
        assert_frame_equal(merged(layout, table), merged(local, table), check_row_order=False)
    assert impressions_by_day(merged(layout, IMPRESSION_MINUTE_AGGREGATES)) == (
        EXPECTED_IMPRESSIONS_LAKE
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_partials_merge_alike_whatever_the_split(
    lines: tuple[list[bytes], list[bytes]], seed: int
) -> None:
    on_time, late = lines
    frame = aggregates.deduplicate(records.parse_segment("s", b"".join([*on_time, *late])).frame)
    rng = random.Random(seed)
    parts = pl.Series([rng.randrange(4) for _ in range(frame.height)])
    pieces = [frame.filter(parts == part) for part in range(4)]
    for partial, merge in (
        (aggregates.IMPRESSION_MINUTES.partial, aggregates.IMPRESSION_MINUTES.merge),
        (views.view_partials, views.merge_view_partials),
    ):
        whole = merge([partial(frame)])
        split = merge([merge([partial(p) for p in pieces[:2]]), *map(partial, pieces[2:])])
        assert_frame_equal(split, whole, check_row_order=False)
