"""One validation: the same malformed records give the same dead letters in both modes.

The records go through local mode (sealed segments, `LocalRunner`) and through the
streaming job (the production `StreamingAggregates` and dead-letter landing, fed by
TestStream on the DirectRunner, as in test_streaming.py); the dead letters each mode lands
in the lake must be the same records with the same reasons. Local mode reads a segment two
ways, DuckDB at once when every line parses and line by line when one does not, so the
refused records are put in both kinds of segment.
"""

from __future__ import annotations

import json
import time
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

from marquee.lake import DEAD_LETTERS, ensure_lake
from marquee.layout import DataLayout
from pipelines.local_runner import LocalRunner
from pipelines.streaming import StreamingAggregates, StreamingConfig, land_dead_letters
from pipelines.validation import Reason, check_record
from tests.support.segments import golden_log_lines, write_segments

pytestmark = pytest.mark.unit

HOUR_S = 3600


@pytest.fixture(scope="module")
def good() -> list[dict[str, Any]]:
    lines, _ = golden_log_lines()
    return [json.loads(line) for line in lines[:12]]


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != name}


def parseable_but_refused(good: list[dict[str, Any]]) -> dict[bytes, Reason | None]:
    """Records DuckDB reads (so local mode takes its fast path), with the expected verdict."""
    return {
        line(without(good[0], "platform")): Reason.MISSING_REQUIRED_FIELD,
        line(without(good[1], "type")): Reason.MISSING_REQUIRED_FIELD,
        line({**good[2], "event_time_ms": None}): Reason.MISSING_REQUIRED_FIELD,
        line({"type": "heartbeat", "event_id": "a" * 8}): Reason.MISSING_REQUIRED_FIELD,
        line({**good[3], "event_id": "not-a-uuid"}): Reason.INVALID_EVENT_ID,
        line({**good[4], "event_id": good[4]["event_id"].upper()}): Reason.INVALID_EVENT_ID,
        # Accepted by both: the log holds what the API validated, so the pipeline checks
        # only what it needs to count; a type no output reads is counted nowhere.
        line({**good[5], "type": "teleported", "event_id": str(uuid.uuid4())}): None,
        line({**good[6], "startup_ms": "12", "event_id": str(uuid.uuid4())}): None,
        line({**good[7], "played_ms": -5, "event_id": str(uuid.uuid4())}): None,
    }


def unparseable(good: list[dict[str, Any]]) -> dict[bytes, Reason | None]:
    """Records only the line-by-line read can set aside (local mode's slow path)."""
    return {
        b"not json at all": Reason.UNPARSEABLE_RECORD,
        b"[1, 2, 3]": Reason.UNPARSEABLE_RECORD,
        b'{"event_id":"bad\xff","type":"heartbeat","event_time_ms":1,"platform":"web"}': (
            Reason.UNPARSEABLE_RECORD
        ),
        line({**good[8], "event_time_ms": 2**64}): Reason.UNPARSEABLE_RECORD,
        line({**good[9], "startup_ms": {"ms": 1}}): Reason.UNPARSEABLE_RECORD,
        line({**good[10], "fatal": [True]}): Reason.UNPARSEABLE_RECORD,
        line({**good[11], "event_time_ms": "yesterday"}): Reason.UNPARSEABLE_RECORD,
    }


def cast_by_duckdb(good: list[dict[str, Any]]) -> dict[bytes, Reason | None]:
    """Values of another JSON type than their column's that DuckDB's reader casts (a number
    to text, a fraction or a boolean to an integer, an object to its JSON text): read the
    same way whether DuckDB reads the segment whole or a line is decoded alone."""
    return {
        line({**good[0], "event_id": 12}): Reason.INVALID_EVENT_ID,
        line({**good[1], "played_ms": 1.5, "event_id": str(uuid.uuid4())}): None,
        line({**good[2], "played_ms": True, "event_id": str(uuid.uuid4())}): None,
        line({**good[3], "country": {"code": "NZ"}, "event_id": str(uuid.uuid4())}): None,
    }


def test_each_record_gets_its_reason(good: list[dict[str, Any]]) -> None:
    every = {**parseable_but_refused(good), **unparseable(good), **cast_by_duckdb(good)}
    for record, reason in every.items():
        assert check_record(record)[1] == reason, record


def local_dead_letters(root: Path, segments: list[list[bytes]]) -> list[tuple[str, str]]:
    layout = DataLayout(root)
    write_segments(layout, [[record + b"\n" for record in chunk] for chunk in segments])
    LocalRunner(layout).drain()
    return landed(layout)


def streaming_dead_letters(root: Path, records: list[bytes]) -> list[tuple[str, str]]:
    layout = DataLayout(root)
    ensure_lake(layout)
    now_s = int(time.time())

    def stamped(record: bytes) -> TimestampedValue:
        try:
            event_time_s = float(json.loads(record)["event_time_ms"]) / 1000
        except (ValueError, KeyError, TypeError):
            event_time_s = now_s
        return TimestampedValue(record, min(event_time_s, now_s))

    stream = (
        TestStream()
        .advance_watermark_to(now_s - 8 * 86400)
        .add_elements([stamped(record) for record in records])
        .advance_watermark_to_infinity()
    )
    config = StreamingConfig(allowed_lateness_s=8 * 86400, dedup_window_s=HOUR_S, shards=2)
    options = PipelineOptions([])
    options.view_as(StandardOptions).streaming = True
    pipeline = beam.Pipeline(runner=BundleBasedDirectRunner(), options=options)
    outputs = pipeline | stream | "Aggregate" >> StreamingAggregates(config)
    land_dead_letters(outputs[DEAD_LETTERS], layout.lake_dir)
    pipeline.run().wait_until_finish()
    return landed(layout)


def landed(layout: DataLayout) -> list[tuple[str, str]]:
    files = str(layout.lake_table_dir(DEAD_LETTERS) / "*.parquet")
    dead = pl.read_parquet(files).select("reason", "payload")
    return sorted(dead.iter_rows())


def test_local_and_streaming_refuse_the_same_records_for_the_same_reasons(
    tmp_path: Path, good: list[dict[str, Any]]
) -> None:
    refused_fast = {**parseable_but_refused(good), **cast_by_duckdb(good)}
    refused_slow = unparseable(good)
    valid = [line(record) for record in good[:3]]
    fast_segment = [*valid, *refused_fast]
    slow_segment = [*refused_slow, *refused_fast, b"  "]  # the same refusals, line by line

    local = local_dead_letters(tmp_path / "local", [fast_segment, slow_segment])
    streamed = streaming_dead_letters(tmp_path / "stream", [*fast_segment, *slow_segment])

    assert local == streamed
    expected = sorted(
        str(reason)
        for reason in [*refused_fast.values(), *refused_slow.values(), *refused_fast.values()]
        if reason is not None
    )
    assert sorted(reason for reason, _ in local) == expected
