"""Streaming mode under Beam's TestStream: watermarks, early/late firings, lateness, dedup.

The real streaming graph (`StreamingAggregates`, then the lake sink) runs on the
BundleBasedDirectRunner: it is the runner that executes TestStream and stateful DoFns with
event-time timers in process (Prism would need a binary downloaded at run time, and the
FnApiRunner refuses TestStream). No broker runs here, so the records enter through
TestStream instead of ReadFromKafka/ReadFromPubSub; everything after the source is the
production graph.

The golden scenario's log records arrive out of order, some on time, some late within the
allowed lateness, one duplicated late, and one new event after its window expired. The
merge of every pane the job landed must equal what local mode computes from the same
records (minus the expired one), table by table, and the expired event must be kept as
a dead letter. Counts are asserted through outputs, not Beam counters: under TestStream the
DirectRunner reports user counters of the first step's bundles only (measured here:
`events_read` 26 of 38), while Dataflow and Flink report them whole.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import apache_beam as beam
import polars as pl
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.runners.direct.direct_runner import BundleBasedDirectRunner
from apache_beam.testing.test_stream import TestStream
from apache_beam.transforms.window import TimestampedValue
from polars.testing import assert_frame_equal

from marquee.lake import DEAD_LETTERS, MINUTE_AGGREGATES, ensure_lake
from marquee.layout import DataLayout
from pipelines.local_runner import OUTPUT_TABLES, LocalRunner
from pipelines.streaming import (
    LakeSink,
    PaneBatch,
    StreamingAggregates,
    StreamingConfig,
    WritePanes,
    land_dead_letters,
)
from pipelines.transforms import MERGES
from pipelines.validation import Reason, check_record
from tests.support.golden import load_scenario
from tests.support.segments import golden_log_lines, write_segments

pytestmark = pytest.mark.unit

MINUTE_MS = 60_000
LATENESS_S = 3600


def event_time_ms(line: bytes) -> int:
    return int(json.loads(line)["event_time_ms"])


def event_id(line: bytes) -> str:
    return str(json.loads(line)["event_id"])


def with_new_event_id(line: bytes) -> bytes:
    record = json.loads(line)
    record["event_id"] = str(uuid.UUID(int=random.Random(7).getrandbits(128), version=4))
    return json.dumps(record).encode() + b"\n"


def merged_lake(layout: DataLayout) -> dict[str, pl.DataFrame]:
    """Every run or pane file of each output table, merged by the table's own rule."""
    merged = {}
    for table in OUTPUT_TABLES:
        files = pl.read_parquet(str(layout.lake_table_dir(table) / "*.parquet"))
        merged[table] = MERGES[table]([files.drop("run_id", "processed_at_ms")])
    return merged


def record_pane(batch: PaneBatch, path: str) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps([batch.window_start_ms, batch.pane_index, batch.timing]) + "\n")


class Plan:
    """The golden records split into the phases of the test stream."""

    def __init__(self, lines: list[bytes], rng: random.Random) -> None:
        ordered = sorted(lines, key=event_time_ms)
        self.t0 = event_time_ms(ordered[0])
        self.first_mark = self.t0 + 45 * MINUTE_MS
        self.second_mark = self.t0 + 2 * 3600 * 1000
        early = [line for line in ordered if event_time_ms(line) < self.first_mark]
        self.rest = [line for line in ordered if event_time_ms(line) >= self.first_mark]
        self.late = early[:3]
        """Held back until the watermark passed their window: late within lateness."""
        self.on_time = early[3:]
        rng.shuffle(self.on_time)
        rng.shuffle(self.rest)
        self.duplicate = early[-1]
        """A second copy, delivered late: counted once."""
        self.too_late = with_new_event_id(ordered[0])
        """A new event for the first window, delivered after that window expired."""
        assert self.rest, "the scenario should span more than 45 minutes"
        assert event_time_ms(self.rest[-1]) < self.second_mark + 4 * 3600 * 1000

    def stream(self) -> TestStream:
        def stamped(batch: list[bytes]) -> list[TimestampedValue]:
            return [TimestampedValue(line, event_time_ms(line) / 1000) for line in batch]

        return (
            TestStream()
            .advance_watermark_to(self.t0 / 1000 - 1)
            .add_elements(stamped(self.on_time))
            .advance_processing_time(30)  # early firings
            .advance_watermark_to(self.first_mark / 1000)  # on-time firings
            .add_elements(stamped([*self.late, self.duplicate]))  # late firings
            .add_elements(stamped(self.rest))
            .advance_processing_time(30)
            .advance_watermark_to(self.second_mark / 1000)
            .add_elements(stamped([self.too_late]))
            .advance_watermark_to_infinity()
        )


@pytest.fixture(scope="module")
def golden_lines() -> list[bytes]:
    lines, _ = golden_log_lines(load_scenario())
    return lines


def run_streaming(plan: Plan, layout: DataLayout, shards: int) -> list[list[Any]]:
    ensure_lake(layout)
    panes_file = layout.root / "panes.jsonl"
    config = StreamingConfig(
        allowed_lateness_s=LATENESS_S, dedup_window_s=LATENESS_S, early_firing_s=10, shards=shards
    )
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)
    outputs = pipeline | plan.stream() | "Aggregate" >> StreamingAggregates(config)
    outputs["panes"] | "WritePanes" >> beam.ParDo(WritePanes(LakeSink(str(layout.lake_dir))))
    outputs["panes"] | "RecordPanes" >> beam.Map(record_pane, str(panes_file))
    land_dead_letters(outputs["dead_letters"], layout.lake_dir)
    pipeline.run().wait_until_finish()
    return [json.loads(line) for line in panes_file.read_text().splitlines()]


@pytest.mark.parametrize(("seed", "shards"), [(1, 1), (2, 4)])
def test_merged_panes_equal_the_batch_result(
    tmp_path: Path, golden_lines: list[bytes], seed: int, shards: int
) -> None:
    plan = Plan(golden_lines, random.Random(seed))
    streamed = DataLayout(tmp_path / "stream")
    panes = run_streaming(plan, streamed, shards)

    batch = DataLayout(tmp_path / "batch")
    write_segments(batch, [[*golden_lines, plan.duplicate]])
    LocalRunner(batch).drain()

    expected = merged_lake(batch)
    actual = merged_lake(streamed)
    for table in OUTPUT_TABLES:
        assert_frame_equal(actual[table], expected[table], check_row_order=False)
    _, totals = golden_log_lines(load_scenario())
    minutes = actual[MINUTE_AGGREGATES].filter(pl.col("content_id") == "vod_g_1")
    for measure, value in totals["vod_g_1"].items():
        assert minutes[measure].sum() == value, measure

    timings = {timing for _, _, timing in panes}
    assert {"EARLY", "ON_TIME", "LATE"} <= timings
    per_window: dict[int, int] = {}
    for start, _, _ in panes:
        per_window[start] = per_window.get(start, 0) + 1
    assert max(per_window.values()) > 1, "some window should have fired more than once"

    retried = len(golden_lines) - len({event_id(line) for line in golden_lines})
    assert retried == 1, "the scenario holds one client retry, counted once above"


@pytest.mark.parametrize("shards", [1, 4])
def test_the_expired_event_is_kept_as_a_dead_letter(
    tmp_path: Path, golden_lines: list[bytes], shards: int
) -> None:
    plan = Plan(golden_lines, random.Random(3))
    streamed = DataLayout(tmp_path / "stream")
    run_streaming(plan, streamed, shards=shards)
    dead = pl.read_parquet(str(streamed.lake_table_dir(DEAD_LETTERS) / "*.parquet"))
    assert dead["reason"].to_list() == [Reason.BEYOND_ALLOWED_LATENESS]
    assert event_id(dead["payload"][0].encode()) == event_id(plan.too_late)
    minutes = merged_lake(streamed)[MINUTE_AGGREGATES]
    first_minute = event_time_ms(plan.too_late) // MINUTE_MS
    batch = DataLayout(tmp_path / "batch")
    write_segments(batch, [golden_lines])
    LocalRunner(batch).drain()
    expected = merged_lake(batch)[MINUTE_AGGREGATES]
    assert_frame_equal(
        minutes.filter(pl.col("epoch_minute") == first_minute),
        expected.filter(pl.col("epoch_minute") == first_minute),
        check_row_order=False,
    )


def test_records_the_aggregation_cannot_parse_are_dead_letters(golden_lines: list[bytes]) -> None:
    """Not UTF-8: it used to raise inside the job, which a runner retries forever. A value
    no column can hold: it used to pass the check and vanish inside the combiner."""
    good = json.loads(golden_lines[0])
    unparseable = [
        b'{"event_id":"bad\xff","type":"heartbeat","event_time_ms":1,"platform":"web"}',
        json.dumps({**good, "event_time_ms": 2**64}).encode(),
        json.dumps({**good, "startup_ms": {"ms": 1}}).encode(),
        json.dumps({**good, "fatal": [True]}).encode(),
    ]
    for line in unparseable:
        assert check_record(line) == (None, "unparseable_record"), line
    lax = json.dumps({**good, "startup_ms": "12"}).encode()
    assert check_record(golden_lines[0]) == check_record(lax) == (good["event_id"], None)
