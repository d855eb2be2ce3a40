"""The pipelines' Beam composites, each on its own in a `TestPipeline`, checked with
`assert_that`: validation (streaming's per-bundle form and local mode's read of segments),
the partials of a frame of events, and the per-window partials of the streaming combiner.

Frames are not comparable with `==`, so a frame output is mapped to plain values (event
ids, sums) before `equal_to` looks at it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import apache_beam as beam
import polars as pl
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to, equal_to_per_window
from apache_beam.transforms import window

from marquee.lake import DEAD_LETTERS, MINUTE_AGGREGATES
from marquee.layout import DataLayout
from pipelines import records
from pipelines.streaming import RecordsToPartials
from pipelines.transforms import ALL_PARTIALS, MERGES, Aggregate, ParseEvents, PartialsOf
from pipelines.validation import Reason, ValidateRecords
from tests.support.segments import golden_log_lines, write_segments

pytestmark = pytest.mark.unit

MINUTE_S = 60


@pytest.fixture(scope="module")
def golden() -> tuple[list[bytes], dict[str, dict[str, int]]]:
    lines, totals = golden_log_lines()
    return [line.rstrip(b"\n") for line in lines], totals


def event_id(line: bytes) -> str:
    return str(json.loads(line)["event_id"])


def missing_platform(line: bytes) -> bytes:
    record = json.loads(line)
    del record["platform"]
    return json.dumps(record).encode()


def test_validate_records_keeps_usable_records_and_names_the_others(
    golden: tuple[list[bytes], Any],
) -> None:
    lines, _ = golden
    good = lines[:5]
    bad = [
        b"not json",
        missing_platform(lines[5]),
        lines[6].replace(b'"event_id":"', b'"event_id":"x'),
    ]
    with TestPipeline() as pipeline:
        checked = pipeline | beam.Create([*good, *bad]) | ValidateRecords("stream")
        assert_that(
            checked.events, equal_to([(event_id(line), line) for line in good]), label="Events"
        )
        assert_that(
            checked[DEAD_LETTERS] | beam.Map(lambda letter: letter[0]),
            equal_to(
                [Reason.UNPARSEABLE_RECORD, Reason.MISSING_REQUIRED_FIELD, Reason.INVALID_EVENT_ID]
            ),
            label="Reasons",
        )
        assert_that(
            checked[DEAD_LETTERS] | beam.Filter(lambda letter: letter[0] == "unparseable_record"),
            equal_to([(Reason.UNPARSEABLE_RECORD, b"not json")]),
            label="UnparseableKeptWhole",
        )


def test_parse_events_reads_a_run_into_one_frame_and_dead_letters_per_segment(
    tmp_path: Path, golden: tuple[list[bytes], Any]
) -> None:
    lines, _ = golden
    layout = DataLayout(tmp_path)
    broken = missing_platform(lines[2])
    write_segments(
        layout, [[line + b"\n" for line in chunk] for chunk in ([*lines[:10], broken], lines[10:])]
    )
    segments = sorted(str(path) for path in layout.log_dir.iterdir())
    with TestPipeline() as pipeline:
        parsed = pipeline | beam.Create([segments]) | ParseEvents()
        assert_that(
            parsed.events | beam.Map(lambda frame: sorted(frame["event_id"].to_list())),
            equal_to([sorted(event_id(line) for line in lines)]),
            label="OneFrameForTheRun",
        )
        assert_that(
            parsed[DEAD_LETTERS] | beam.Map(lambda frame: frame.select("segment", "reason").rows()),
            equal_to([[(Path(segments[0]).name, Reason.MISSING_REQUIRED_FIELD)]]),
            label="DeadLettersNameTheirSegment",
        )


def minute_sums(partials: Iterable[tuple[str, pl.DataFrame]], content_id: str) -> dict[str, int]:
    """The minute partial's measures summed for one content."""
    minutes = dict(partials)[MINUTE_AGGREGATES].filter(pl.col("content_id") == content_id)
    return {name: int(minutes[name].sum()) for name in ("attempts", "starts", "played_ms")}


def test_aggregate_gives_one_partial_per_table_that_sum_to_the_golden_totals(
    golden: tuple[list[bytes], dict[str, dict[str, int]]],
) -> None:
    lines, totals = golden
    unique: dict[str, bytes] = {event_id(line): line for line in reversed(lines)}
    frame = records.parse_segment("golden", b"\n".join(unique.values())).frame
    expected = {name: totals["vod_g_1"][name] for name in ("attempts", "starts", "played_ms")}
    with TestPipeline() as pipeline:
        partials = pipeline | beam.Create([frame]) | Aggregate()
        assert_that(
            partials | beam.Map(lambda partial: partial[0]),
            equal_to(list(MERGES)),
            label="EveryTableOnce",
        )
        assert_that(
            partials
            | beam.combiners.ToList()
            | beam.Map(lambda found: minute_sums(found, "vod_g_1")),
            equal_to([expected]),
            label="GoldenTotals",
        )


def test_records_to_partials_combines_each_window_on_its_own(
    golden: tuple[list[bytes], Any],
) -> None:
    """Per 60 s window, the combiner's minute partial is the whole run's for that minute."""
    lines, _ = golden
    unique = list({event_id(line): line for line in reversed(lines)}.values())
    frame = records.parse_segment("golden", b"\n".join(unique)).frame
    whole = dict(PartialsOf(ALL_PARTIALS)(frame))[MINUTE_AGGREGATES]
    per_minute = {
        minute: (attempts, played_ms)
        for minute, attempts, played_ms in whole.group_by("epoch_minute")
        .agg(pl.col("attempts").sum(), pl.col("played_ms").sum())
        .iter_rows()
    }
    event_minutes = set(frame["event_time_ms"] // 60_000)
    assert len(event_minutes) > 3, "the scenario should span several minutes"
    expected = {
        window.IntervalWindow(minute * MINUTE_S, (minute + 1) * MINUTE_S): [
            per_minute.get(minute, (0, 0))
        ]
        for minute in event_minutes
    }

    def minute_totals(element: tuple[int, dict[str, pl.DataFrame]]) -> tuple[int, int]:
        _, tables = element
        minutes = tables[MINUTE_AGGREGATES]
        return int(minutes["attempts"].sum()), int(minutes["played_ms"].sum())

    def stamped(line: bytes) -> window.TimestampedValue:
        return window.TimestampedValue(line, json.loads(line)["event_time_ms"] / 1000)

    with TestPipeline() as pipeline:
        panes = (
            pipeline
            | beam.Create(unique)
            | beam.Map(stamped)
            | beam.WindowInto(window.FixedWindows(MINUTE_S))
            | beam.Map(lambda line: (0, line))
            | beam.CombinePerKey(RecordsToPartials())
            | beam.Map(minute_totals)
        )
        assert_that(panes, equal_to_per_window(expected), use_global_window=False)
