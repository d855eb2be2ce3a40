"""Read log segments into Polars frames with the columns the aggregates need.

The API writes one JSON object per line: the event of shared/spec/EVENTS.md without
`viewer_id` (replaced by its pseudonym `viewer_key`), plus the enrichment `event_time_ms`,
`received_at_ms`, `client_ts_ms` and `app_id`. The fast path parses a whole segment in one
call against a fixed schema (fields outside it are ignored); if the segment holds a line
that cannot be parsed, the slow path decodes line by line so that only the bad lines become
dead letters and the rest are still counted.

Segment files are parsed by DuckDB's JSON reader, a whole run's in one query
(`read_segments_at_once`) or one file (`read_segment`): on one core it parsed
the simulator's records in 3.2 µs each against Polars' 4.9 µs, and parsing is the largest
single cost of local mode. Bytes that are not a file (a streaming message) are parsed by
Polars (`parse_segment`); DuckDB reads only files without fsspec. Both give the same frame
for every record the API writes (`tests/test_pipeline_records.py`). Neither is strict
about a value of another JSON type than its column's: DuckDB casts `"12"` to 12, and so
does the line-by-line path Polars falls back to; a line `decode_record` refuses for a
value DuckDB casts (a number to text, a fraction or a boolean to an integer) is read by
DuckDB alone (`decode_lines`), so a record counts the same in every read. Log records
are written by the API from validated events, so such a value means a hand-made or
damaged log; its record is still checked like any other (`pipelines.validation.validate`).
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import duckdb
import msgspec
import polars as pl

from pipelines.dead_letters import Reason

LOG_RECORD_SCHEMA: dict[str, pl.DataType] = {
    # envelope and enrichment
    "event_id": pl.Utf8(),
    "type": pl.Utf8(),
    "event_time_ms": pl.Int64(),
    "received_at_ms": pl.Int64(),
    "app_id": pl.Utf8(),
    "viewer_key": pl.Utf8(),
    "platform": pl.Utf8(),
    "app_version": pl.Utf8(),
    "os": pl.Utf8(),
    "device": pl.Utf8(),
    "country": pl.Utf8(),
    "creator_id": pl.Utf8(),
    "content_id": pl.Utf8(),
    "content_type": pl.Utf8(),
    "session_id": pl.Utf8(),
    # player events
    "startup_ms": pl.Int64(),
    "fatal": pl.Boolean(),
    "played_ms": pl.Int64(),
    "stalled_ms": pl.Int64(),
    "stall_count": pl.Int64(),
    "seek_ms": pl.Int64(),
    "bitrate_kbps": pl.Int64(),
    "playhead_ms": pl.Int64(),
    "reason": pl.Utf8(),
    "live_latency_ms": pl.Int64(),
    "surface": pl.Utf8(),
    # ad events
    "quartile": pl.Int64(),
    "ad_id": pl.Utf8(),
    "ad_break_id": pl.Utf8(),
    "position": pl.Utf8(),
    "ad_format": pl.Utf8(),
    # engagement events
    "story_id": pl.Utf8(),
    "action": pl.Utf8(),
    "target_id": pl.Utf8(),
    "target_type": pl.Utf8(),
    "reaction": pl.Utf8(),
    "live_id": pl.Utf8(),
    "amount_minor": pl.Int64(),
    "currency": pl.Utf8(),
}
"""The log-record columns the pipeline reads; the full record is EVENTS.md plus enrichment.

`position` is a string on ad events (the break: `pre`, `mid`, `post`) and an integer on
`story_viewed` (the tray slot), which no output reads: it is read as text, `"3"` for the
tray's 3 (`decode_record` does as DuckDB and Polars do). `client_ts_ms` is left out (no
output needs it): each column costs the JSON reader about 0.05 µs a record whether the
record has the field or not.
"""

REQUIRED_COLUMNS = ("event_id", "type", "event_time_ms", "platform")


@dataclass
class SegmentBatch:
    """The parsed records of one segment, and the lines that could not be parsed."""

    segment: str
    frame: pl.DataFrame
    bad_lines: list[tuple[str, str]]
    """(reason, payload) of each unusable line."""


def empty_records() -> pl.DataFrame:
    return pl.DataFrame(schema=LOG_RECORD_SCHEMA)


DUCKDB_TYPES = {pl.Utf8(): "VARCHAR", pl.Int64(): "BIGINT", pl.Boolean(): "BOOLEAN"}
DUCKDB_COLUMNS = {name: DUCKDB_TYPES[dtype] for name, dtype in LOG_RECORD_SCHEMA.items()}
"""`LOG_RECORD_SCHEMA` as DuckDB's `read_ndjson(columns=...)` takes it."""

ONE_BATCH_ROWS = 1 << 40
"""DuckDB's Arrow batch size for a read: every column of a run's records in one chunk."""

_readers = threading.local()


def _reader() -> duckdb.DuckDBPyConnection:
    """This thread's in-memory DuckDB connection (a connection is not shared by threads).

    One DuckDB thread: a run parses its segments one after another, and a second thread
    spends the same CPU while taking a core the rest of the machine may need.
    Strings leave DuckDB as Arrow string views (Arrow format 1.5 is the first with them),
    the layout Polars keeps them in, so the hand-over copies no string.
    """
    connection: duckdb.DuckDBPyConnection | None = getattr(_readers, "connection", None)
    if connection is None:
        connection = duckdb.connect(
            config={
                "threads": 1,
                "produce_arrow_string_view": True,
                "arrow_output_version": "1.5",
            }
        )
        _readers.connection = connection
    return connection


GLOB_CHARACTERS = frozenset("*?[")
"""DuckDB reads a path with these as a pattern, which could name other files."""


def read_segment(path: Path) -> SegmentBatch:
    """Parse a segment file with DuckDB, or line by line if a line cannot be parsed."""
    frame = read_segments_at_once([path])
    if frame is not None:
        return SegmentBatch(path.name, frame, [])
    data = path.read_bytes()
    if GLOB_CHARACTERS.intersection(str(path)):  # DuckDB was not asked: try Polars first
        return parse_segment(path.name, data)
    return _read_line_by_line(path.name, data)


def read_segments_at_once(paths: Sequence[Path]) -> pl.DataFrame | None:
    """The records of all these segment files in one DuckDB query, or None when a file
    holds a line DuckDB cannot parse (or a path it would read as a pattern).

    One query, because the reader's setup is paid per query (about a fifth of the parse
    with a query per segment). On None the caller reads segment by segment, so
    that only the bad lines become dead letters.
    """
    if not paths or any(GLOB_CHARACTERS.intersection(str(path)) for path in paths):
        return None
    try:
        return duckdb_frame(paths)
    except duckdb.Error:
        return None


def duckdb_frame(paths: Sequence[Path]) -> pl.DataFrame:
    """Segment files' records read by DuckDB; raises `duckdb.Error` on a bad line.

    One Arrow batch, so every column is one chunk: the filters and selections of the
    outputs keep a frame's chunks, and the view partials, which gather from their rows
    many times, would otherwise copy theirs into one (`views.view_partials`). The read
    costs the same as in DuckDB's default 131,072-row batches; `.pl()` is 2-3 % cheaper
    than `to_arrow_table()` then `pl.from_arrow()`.
    """
    relation = _reader().sql(
        "select * from read_ndjson($paths, columns = $columns, format = 'newline_delimited')",
        params={"paths": [str(path) for path in paths], "columns": DUCKDB_COLUMNS},
    )
    return relation.pl(batch_size=ONE_BATCH_ROWS)


def parse_segment(segment: str, data: bytes) -> SegmentBatch:
    """Parse NDJSON log records in memory: one Polars call, or line by line if that fails."""
    try:
        frame = pl.read_ndjson(io.BytesIO(data), schema=LOG_RECORD_SCHEMA)
        return SegmentBatch(segment, frame, [])
    except pl.exceptions.PolarsError:
        return _read_line_by_line(segment, data)


def _read_line_by_line(segment: str, data: bytes) -> SegmentBatch:
    """Decode each line on its own, so that only unusable lines become dead letters.

    A line is unusable (`unparseable_record`) when `decode_record` refuses it. Lines it
    accepts hold only values their columns can hold, so the frame of them always builds;
    before, a line that was not UTF-8 or held an integer past 64 bits made this raise, and
    the run failed at the same segment every time it was retried.
    """
    return decode_lines(segment, data.splitlines()).batch


@dataclass(frozen=True)
class DecodedLines:
    """Log lines decoded one by one: their batch, and which line each part came from."""

    batch: SegmentBatch
    row_lines: list[int]
    """The line of each frame row."""
    bad_line_indices: list[int]
    """The line of each of the batch's bad lines."""


def decode_lines(segment: str, lines: Sequence[bytes]) -> DecodedLines:
    """Log lines decoded one by one (`_read_line_by_line`, and the streaming job's bundles)
    -> their batch, and where each record and bad line was; a blank line is no record."""
    decoded: dict[int, tuple[object, ...] | None] = {}
    for index, line in enumerate(lines):
        if line.strip():
            record = decode_record(line)
            decoded[index] = None if record is None else msgspec.structs.astuple(record)
    refused = [index for index, row in decoded.items() if row is None]
    objects = [index for index in refused if _is_object(lines[index])]
    cast = _read_as_duckdb_casts([lines[index] for index in objects])
    decoded.update(zip(objects, cast, strict=True))
    rows: list[tuple[object, ...]] = []
    row_lines: list[int] = []
    bad: list[tuple[str, str]] = []
    bad_lines: list[int] = []
    for index, row in decoded.items():
        if row is None:
            bad.append((Reason.UNPARSEABLE_RECORD, lines[index].decode("utf-8", "replace")))
            bad_lines.append(index)
        else:
            rows.append(row)
            row_lines.append(index)
    frame = pl.DataFrame(rows, schema=LOG_RECORD_SCHEMA, orient="row") if rows else empty_records()
    return DecodedLines(SegmentBatch(segment, frame, bad), row_lines, bad_lines)


def _is_object(line: bytes) -> bool:
    """Whether a line is a JSON object at all (in UTF-8), whatever its values' types."""
    try:
        return isinstance(msgspec.json.decode(line), dict)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return False


def _read_as_duckdb_casts(lines: list[bytes]) -> list[tuple[object, ...] | None]:
    """JSON objects `decode_record` refused, read as DuckDB's reader reads a segment: with
    its casts of a value of another JSON type (a number to text, a fraction or a boolean to
    an integer), so a line decoded alone counts as it does in a segment DuckDB reads
    whole; None for a line DuckDB refuses too. One read for all, one per line if it fails."""
    if not lines:
        return []
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "refused.seg"
        path.write_bytes(b"\n".join(lines) + b"\n")
        frame = read_segments_at_once([path])
    if frame is not None and frame.height == len(lines):
        rows: list[tuple[object, ...] | None] = list(frame.rows())
        return rows
    if len(lines) == 1:
        return [None]
    return [row for line in lines for row in _read_as_duckdb_casts([line])]


_INT64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_VALUE_TYPES: dict[pl.DataType, Any] = {pl.Utf8(): str, pl.Int64(): _INT64, pl.Boolean(): bool}
TEXT_OR_INTEGER = frozenset({"position"})
"""Text columns that also take an integer, kept as its text (`position`)."""
LogRecord = msgspec.defstruct(
    "LogRecord",
    [
        (name, (str | _INT64 if name in TEXT_OR_INTEGER else _VALUE_TYPES[dtype]) | None, None)
        for name, dtype in LOG_RECORD_SCHEMA.items()
    ],
)
"""A log record's `LOG_RECORD_SCHEMA` columns, each a value its column can hold (fields
outside the schema are ignored)."""
_record_decoder = msgspec.json.Decoder(LogRecord, strict=False)


def decode_record(line: bytes) -> msgspec.Struct | None:
    """One log line as a `LogRecord`, or None when it cannot be one.

    None for a line that is not a JSON object in UTF-8, or holds a value its column cannot
    (an integer past 64 bits, an object where a number belongs). Lax, as DuckDB's reader
    is: `"12"` is taken as 12, and an integer `position` as its text. Shared by local
    mode's line-by-line path and the streaming job's record check, so both refuse the
    same lines.
    """
    try:
        record = _record_decoder.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    for name in TEXT_OR_INTEGER:
        value = getattr(record, name)
        if isinstance(value, int):
            setattr(record, name, str(value))
    return record
