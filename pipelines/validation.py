"""One validation of log records for both modes.

A log record is usable when it parses into the log-record columns (DuckDB's reader, or
`records.decode_record` line by line), has every required column
(`records.REQUIRED_COLUMNS`) and a UUID event id. `validate` checks a parsed batch with
Polars; local mode calls it on a run's records (`transforms.ParseEvents`), the streaming
job on a bundle's records (`ValidateRecords`), so the two modes refuse the same records
with the same reasons (`dead_letters.Reason`) and the same payloads. Every unusable
record leaves as a dead letter instead of raising: a runner retries a failing bundle
forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import polars as pl
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.utils.windowed_value import WindowedValue

from pipelines import records
from pipelines.dead_letters import DEAD_LETTERS, Reason, dead_letter_frame, payloads

__all__ = [
    "DEAD_LETTERS",
    "Reason",
    "ValidateRecords",
    "Validated",
    "check_record",
    "dead_letter_frame",
    "payloads",
    "validate",
]

NAMESPACE = "marquee"
"""Beam metrics namespace of every pipeline counter."""


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@dataclass(frozen=True)
class Validated:
    """A batch split into its usable records and the dead letters of the others."""

    valid: pl.DataFrame
    dead_letters: pl.DataFrame | None
    """Unparseable lines first, then refused records; None when every record is usable."""
    kept: pl.Series | None
    """Per row of the batch's frame, whether it is in `valid`; None when all are."""
    refused_rows: list[int]
    """The frame row of each refused record's dead letter, in their order (after the
    batch's bad lines)."""


def validate(batch: records.SegmentBatch) -> Validated:
    """A parsed batch -> its usable records and the dead letters of the others.

    Almost every batch is wholly valid: the checks are computed first, and the records
    are copied (filtered) only when one fails.
    """
    frame = batch.frame
    checks = frame.select(
        pl.all_horizontal(pl.col(name).is_not_null() for name in records.REQUIRED_COLUMNS).alias(
            "complete"
        ),
        pl.col("event_id").str.contains(UUID_PATTERN).fill_null(False).alias("valid_id"),
    )
    complete, valid_id = checks["complete"], checks["valid_id"]
    dead = [dead_letter_frame(batch.segment, reason, [line]) for reason, line in batch.bad_lines]
    if complete.all() and valid_id.all():
        return Validated(frame, pl.concat(dead) if dead else None, None, [])
    kept = complete & valid_id
    refused_rows: list[int] = []
    for reason, refused in (
        (Reason.MISSING_REQUIRED_FIELD, ~complete),
        (Reason.INVALID_EVENT_ID, complete & ~valid_id),
    ):
        if refused.any():
            dead.append(dead_letter_frame(batch.segment, reason, payloads(frame.filter(refused))))
            refused_rows.extend(refused.arg_true().to_list())
    return Validated(frame.filter(kept), pl.concat(dead), kept, refused_rows)


def check_record(line: bytes) -> tuple[str | None, Reason | None]:
    """One log line through `validate`: (event_id, None) if usable, else (None, reason).

    For the few records a replay checks again; a stream is validated a bundle at a time.
    """
    decoded = records.decode_lines("", [line])
    checked = validate(decoded.batch)
    if checked.dead_letters is not None:
        return None, Reason(checked.dead_letters["reason"][0])
    if checked.valid.is_empty():  # a blank line
        return None, Reason.UNPARSEABLE_RECORD
    return str(checked.valid["event_id"][0]), None


TIMESTAMP = beam.DoFn.TimestampParam
WINDOW = beam.DoFn.WindowParam


class ValidateBundle(beam.DoFn):
    """Raw log records -> (event_id, record); the others to `DEAD_LETTERS` as (reason, payload).

    The records of a bundle are validated together (`validate`), so the check is the
    columnar one local mode runs, and each record leaves with the timestamp and window it
    came with. A bundle of one record costs about half a millisecond; a runner's bundles
    of hundreds, a few microseconds a record.
    """

    def __init__(self, segment: str) -> None:
        self.segment = segment
        self.events_read = Metrics.counter(NAMESPACE, "events_read")
        self.dead_letters = Metrics.counter(NAMESPACE, "dead_letters")

    def start_bundle(self) -> None:
        self.pending: list[tuple[bytes, Any, Any]] = []

    def process(self, line: bytes, timestamp: Any = TIMESTAMP, window: Any = WINDOW) -> None:
        self.pending.append((line, timestamp, window))

    def finish_bundle(self) -> Iterator[object]:
        pending, self.pending = self.pending, []
        if not pending:
            return
        self.events_read.inc(len(pending))
        decoded = records.decode_lines(self.segment, [line for line, _, _ in pending])
        checked = validate(decoded.batch)
        rows = decoded.row_lines
        kept = range(len(rows)) if checked.kept is None else checked.kept.arg_true().to_list()
        for row, event_id in zip(kept, checked.valid["event_id"], strict=True):
            line, timestamp, window = pending[rows[row]]
            yield WindowedValue((event_id, line), timestamp, (window,))
        if checked.dead_letters is None:
            return
        self.dead_letters.inc(checked.dead_letters.height)
        sources = [*decoded.bad_line_indices, *(rows[row] for row in checked.refused_rows)]
        letters = checked.dead_letters.select("reason", "payload").iter_rows()
        for (reason, payload), source in zip(letters, sources, strict=True):
            _, timestamp, window = pending[source]
            yield TaggedOutput(
                DEAD_LETTERS, WindowedValue((reason, payload.encode()), timestamp, (window,))
            )


class ValidateRecords(beam.PTransform):
    """Raw log records, one an element -> `events`: (event_id, record) of the usable ones,
    `DEAD_LETTERS`: (reason, payload) of the others (`validate`, per bundle)."""

    def __init__(self, segment: str) -> None:
        super().__init__()
        self.segment = segment

    def expand(self, lines: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return lines | "ValidateBundle" >> beam.ParDo(ValidateBundle(self.segment)).with_outputs(
            DEAD_LETTERS, main="events"
        )
