"""Live latency through the pipeline: `live_latency_minute_values` in local and streaming mode.

The scenario of tests/support/live_latency.py goes through the real validation and
enrichment into log segments, then the real LocalRunner in two runs (the late heartbeat in
the second) and the real streaming graph under TestStream (the late heartbeat after the
watermark passed its window). Both must land the same value counts: every live heartbeat
value once (the retry deduplicated), nothing from VOD or from events other than
heartbeats, and the hand-computed percentiles from them.
"""

from __future__ import annotations

import json
import time
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
from marquee.lake import LIVE_LATENCY_MINUTE_VALUES, ensure_lake
from marquee.layout import DataLayout
from pipelines.local_runner import LocalRunner
from pipelines.streaming import LakeSink, StreamingAggregates, StreamingConfig, WritePanes
from pipelines.transforms import MERGES
from tests.support.live_latency import (
    EXPECTED_MINUTES,
    EXPECTED_SESSION,
    LIVE_ID,
    LatencyScenario,
    latency_scenario,
    percentile,
)
from tests.support.segments import write_segments

pytestmark = pytest.mark.unit


def log_lines(events: list[dict[str, object]]) -> list[bytes]:
    enricher = Enricher(Pseudonymiser(b"k"), 300, 7 * 86400)
    raw = [json.dumps(event).encode() for event in events]
    result = ingest_events(raw, None, "app", int(time.time() * 1000), None, enricher)
    assert result.accepted == len(events), result.rejected
    return bytes(result.log_bytes).splitlines(keepends=True)


def merged_values(layout: DataLayout) -> pl.DataFrame:
    files = pl.read_parquet(str(layout.lake_table_dir(LIVE_LATENCY_MINUTE_VALUES) / "*.parquet"))
    return MERGES[LIVE_LATENCY_MINUTE_VALUES]([files.drop("run_id", "processed_at_ms")])


def values_by_minute(merged: pl.DataFrame, first_minute: int) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for minute, value, count in merged.select(
        "epoch_minute", "live_latency_ms", "heartbeats"
    ).iter_rows():
        out.setdefault(minute - first_minute, []).extend([value] * count)
    return {minute: sorted(values) for minute, values in out.items()}


@pytest.fixture(scope="module")
def scenario() -> LatencyScenario:
    return latency_scenario()


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory, scenario: LatencyScenario) -> DataLayout:
    layout = DataLayout(tmp_path_factory.mktemp("latency_local"))
    runner = LocalRunner(layout)
    for index, batch in enumerate([scenario.events, scenario.late]):
        write_segments(layout, [log_lines(batch)], index * 10)
        assert runner.run_once() is not None
    return layout


def test_local_mode_keeps_every_live_heartbeat_value_once(
    local_lake: DataLayout, scenario: LatencyScenario
) -> None:
    merged = merged_values(local_lake)
    assert set(merged["content_id"]) == {LIVE_ID}, "VOD heartbeats carry no live latency"
    by_minute = values_by_minute(merged, scenario.first_minute)
    assert by_minute == {
        0: [2000, 2500, 2500, 3000, 4000, 6000, 10000],
        1: [1000, 3000, 5000],
    }
    for minute, (count, p50, p95) in EXPECTED_MINUTES.items():
        values = by_minute[minute]
        got = (len(values), percentile(values, 0.5), percentile(values, 0.95))
        assert got == pytest.approx((count, p50, p95))
    session = [value for values in by_minute.values() for value in values]
    got = (len(session), percentile(session, 0.5), percentile(session, 0.95))
    assert got == pytest.approx(EXPECTED_SESSION)
    runs = pl.read_parquet(
        str(local_lake.lake_table_dir(LIVE_LATENCY_MINUTE_VALUES) / "run-*.parquet")
    )
    assert runs["run_id"].n_unique() == 2, "the late heartbeat lands with its own run"


def test_streaming_mode_lands_the_same_values(
    tmp_path: Path, local_lake: DataLayout, scenario: LatencyScenario
) -> None:
    """On-time records, then the watermark past the first minutes' window, then the late
    heartbeat (within the allowed lateness) and a second copy of an on-time one."""
    lines = log_lines(scenario.events)
    late = log_lines(scenario.late)

    def stamped(batch: list[bytes]) -> list[TimestampedValue]:
        return [TimestampedValue(line, json.loads(line)["event_time_ms"] / 1000) for line in batch]

    past_window = (scenario.start_ms + 2 * 3_600_000) / 1000
    stream = (
        TestStream()
        .advance_watermark_to(scenario.start_ms / 1000 - 1)
        .add_elements(stamped(lines))
        .advance_processing_time(30)
        .advance_watermark_to(past_window)
        .add_elements(stamped([*late, lines[4]]))
        .advance_watermark_to_infinity()
    )
    layout = DataLayout(tmp_path / "stream")
    ensure_lake(layout)
    config = StreamingConfig(
        allowed_lateness_s=3 * 3600, dedup_window_s=3 * 3600, early_firing_s=10, shards=2
    )
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)
    outputs = pipeline | stream | "Aggregate" >> StreamingAggregates(config)
    outputs["panes"] | "WritePanes" >> beam.ParDo(WritePanes(LakeSink(str(layout.lake_dir))))
    pipeline.run().wait_until_finish()
    assert_frame_equal(merged_values(layout), merged_values(local_lake), check_row_order=False)
