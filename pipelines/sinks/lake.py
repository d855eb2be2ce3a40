"""The lake sink: one Parquet file per table and batch, the files DuckDB and dbt read.

It reuses local mode's writer (`pipelines.local_runner.write_run_table`), so a streaming
pane lands exactly like a local run: same schemas, same stamping, same atomic rename, and a
rewrite of the same batch id replaces the file whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from marquee.lake import LAKE_TABLES
from pipelines.local_runner import RunOutputs, run_file_name, write_run_table


def write_batch(
    lake_dir: Path, batch_id: int, processed_at_ms: int, tables: Mapping[str, pl.DataFrame]
) -> dict[str, int]:
    """Land a batch's merged tables under `lake/<table>/run-<batch_id>.parquet`; rows per table.

    Tables without rows are skipped (except `minute_aggregates`, which local mode always
    writes); a table outside the lake contract raises KeyError rather than land unread.
    """
    outputs = RunOutputs(
        lake_dir=lake_dir,
        # Streaming deduplicates in Beam state, so there is no seen-ids file to hand over.
        seen_ids_file=lake_dir / f".unused-{batch_id}.ids.parquet",
        run_id=batch_id,
        processed_at_ms=processed_at_ms,
    )
    written: dict[str, int] = {}
    for table, frame in tables.items():
        if table not in LAKE_TABLES:
            raise KeyError(f"{table!r} is not a lake table")
        (lake_dir / table).mkdir(parents=True, exist_ok=True)
        written[table] = write_run_table(table, frame, outputs)
    return written


def run_files(lake_dir: Path, table: str, run_id: int) -> list[Path]:
    """The files of one run in one table: `run-<id>.parquet`, or several `run-<id>-*.parquet`
    (a table landed in parts, e.g. dead letters per segment)."""
    stem = run_file_name(run_id).removesuffix(".parquet")
    directory = lake_dir / table
    return sorted([*directory.glob(f"{stem}.parquet"), *directory.glob(f"{stem}-*.parquet")])


def read_run_table(lake_dir: Path, table: str, run_id: int) -> pl.DataFrame | None:
    """One run's rows of a table as landed (stamp columns included); None if it has none."""
    files = run_files(lake_dir, table, run_id)
    if not files:
        return None
    frame = pl.concat([pl.read_parquet(path) for path in files], how="diagonal_relaxed")
    return frame.filter(pl.col("run_id") == run_id)
