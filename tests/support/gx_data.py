"""Small data directories for the expectation suites: event log segments, committed lake
runs and mart tables, with times relative to now, each easy to break one way."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from marquee.lake import (
    MINUTE_AGGREGATES,
    MINUTE_AGGREGATES_SCHEMA,
    startup_bucket_columns,
    write_table_atomically,
)
from marquee.layout import DataLayout

MINUTE_MS = 60_000


def now_minute() -> int:
    return int(time.time() * 1000) // MINUTE_MS


def log_event(**values: Any) -> dict[str, Any]:
    """A heartbeat as the API writes it to the log (enriched, viewer pseudonymised)."""
    now_ms = int(time.time() * 1000)
    event: dict[str, Any] = {
        "type": "heartbeat",
        "event_id": str(uuid.uuid4()),
        "ts": "2026-01-01T00:00:00.000Z",
        "viewer_key": "9c029b5c698ad08f0fde0a0f330c9ac3",
        "platform": "web",
        "country": "DE",
        "creator_id": "cr_1",
        "content_id": "vod_1",
        "content_type": "vod",
        "session_id": "s1",
        "seq": 3,
        "played_ms": 10_000,
        "stalled_ms": 0,
        "event_time_ms": now_ms - 5_000,
        "client_ts_ms": now_ms - 5_000,
        "received_at_ms": now_ms,
        "app_id": "app",
    }
    event.update(values)
    return event


def write_segment(directory: Path, name: str, records: list[dict[str, Any]]) -> Path:
    """A sealed segment of NDJSON records (the log's and the quarantine's format)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.seg"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def minute_row(epoch_minute: int, content_id: str = "c1", **values: Any) -> dict[str, Any]:
    """A minute_aggregates row: one request, one start in the 500-1000 ms bucket."""
    row: dict[str, Any] = {
        "epoch_minute": epoch_minute,
        "content_id": content_id,
        "creator_id": "u1",
        "content_type": "vod",
        "platform": "web",
        "country": "DE",
        "attempts": 1,
        "starts": 1,
        "fatal_errors": 0,
        "played_ms": 10_000,
        "stalled_ms": 250,
        "stall_count": 1,
        "seek_ms": 0,
        "startup_ms_sum": 600,
        **{column: 0 for column in startup_bucket_columns()},
        "run_id": 1,
        "processed_at_ms": int(time.time() * 1000),
    }
    row["startup_bucket_500_1000"] = row["starts"]
    row.update(values)
    return row


def land_runs(layout: DataLayout, runs: list[list[dict[str, Any]]]) -> None:
    """Each list of rows as one committed run of minute_aggregates (runs 1, 2, ...)."""
    directory = layout.lake_table_dir(MINUTE_AGGREGATES)
    directory.mkdir(parents=True, exist_ok=True)
    for run_id, rows in enumerate(runs, start=1):
        table = pa.Table.from_pylist(
            [dict(row, run_id=run_id) for row in rows], schema=MINUTE_AGGREGATES_SCHEMA
        )
        write_table_atomically(table, directory / f"run-{run_id:012d}.parquet")
    layout.pipeline_status.parent.mkdir(parents=True, exist_ok=True)
    layout.pipeline_status.write_text(
        json.dumps({"last_run_id": len(runs), "last_commit_at_ms": int(time.time() * 1000)})
    )


def write_table(db: Path, table: str, rows: list[dict[str, Any]]) -> Path:
    """A warehouse table from rows (dates and times as Python objects)."""
    frame = pd.DataFrame(rows)
    with duckdb.connect(str(db)) as connection:
        connection.register("rows_frame", frame)
        connection.execute(f"create or replace table {table} as select * from rows_frame")
    return db


def land_run(layout: DataLayout, run_id: int, rows: list[dict[str, Any]]) -> None:
    """One more committed run of minute_aggregates, as the pipeline lands and commits it."""
    directory = layout.lake_table_dir(MINUTE_AGGREGATES)
    table = pa.Table.from_pylist(
        [dict(row, run_id=run_id) for row in rows], schema=MINUTE_AGGREGATES_SCHEMA
    )
    write_table_atomically(table, directory / f"run-{run_id:012d}.parquet")
    status = json.loads(layout.pipeline_status.read_text())
    status.update(last_run_id=run_id, last_commit_at_ms=int(time.time() * 1000))
    layout.pipeline_status.write_text(json.dumps(status))
