"""The tables the pipeline lands for dbt: immutable Parquet files, one per committed run.

DuckDB lets one process write a database file and locks readers out meanwhile, so the
pipeline does not write into the warehouse file dbt builds. It lands each run's outputs as
Parquet files under `lake/<table>/`; dbt reads them through `read_parquet` globs and the
rows of all runs merge by summing (every output is a mergeable aggregate at its grain).

Each table directory always holds `_schema.parquet`, an empty file with the table's
columns, so that globs match even before the first run and dbt sees typed columns.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from marquee.durable import fsync_path, replace_durably
from marquee.layout import DataLayout

UNKNOWN_COUNTRY = "ZZ"
"""ISO 3166 user-assigned code used when neither the event nor the CDN gave a country."""

MINUTE_AGGREGATES = "minute_aggregates"

MINUTE_AGGREGATES_SCHEMA = pa.schema(
    [
        pa.field("epoch_minute", pa.int64(), nullable=False),
        pa.field("content_id", pa.string(), nullable=False),
        pa.field("creator_id", pa.string(), nullable=False),
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("platform", pa.string(), nullable=False),
        pa.field("country", pa.string(), nullable=False),
        pa.field("attempts", pa.int64(), nullable=False),
        pa.field("starts", pa.int64(), nullable=False),
        pa.field("fatal_errors", pa.int64(), nullable=False),
        pa.field("played_ms", pa.int64(), nullable=False),
        pa.field("stalled_ms", pa.int64(), nullable=False),
        pa.field("stall_count", pa.int64(), nullable=False),
        pa.field("seek_ms", pa.int64(), nullable=False),
        pa.field("startup_ms_sum", pa.int64(), nullable=False),
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("processed_at_ms", pa.int64(), nullable=False),
    ]
)
"""Grain: UTC minute (minutes since the epoch, by event time) x content x platform x country.

A (minute, content, platform, country) key may appear in several runs; its measures sum.
"""

DEAD_LETTERS = "dead_letters"

DEAD_LETTERS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.int64(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("payload", pa.string(), nullable=False),
    ]
)
"""Log records the pipeline could not use, with the reason; one row per record."""

LAKE_TABLES: dict[str, pa.Schema] = {
    MINUTE_AGGREGATES: MINUTE_AGGREGATES_SCHEMA,
    DEAD_LETTERS: DEAD_LETTERS_SCHEMA,
}


def ensure_lake(layout: DataLayout) -> None:
    """Create each table directory with its empty `_schema.parquet`."""
    for table, schema in LAKE_TABLES.items():
        directory = layout.lake_table_dir(table)
        directory.mkdir(parents=True, exist_ok=True)
        schema_file = directory / "_schema.parquet"
        if not schema_file.exists():
            write_table_atomically(schema.empty_table(), schema_file)


def write_table_atomically(table: pa.Table, path: Path) -> None:
    """Write a Parquet file under a temporary name, fsync it, then rename it into place.

    Readers globbing `*.parquet` never see a half-written file, and a rewrite of the same
    run replaces the file whole.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    fsync_path(tmp)
    replace_durably(tmp, path)
