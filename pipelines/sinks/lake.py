"""The lake sink: one Parquet file per table and batch, the files DuckDB and dbt read.

Local mode's runs and the streaming job's panes land through the same `LakeSink`: same
schemas (`marquee.lake`), same stamping (`run_id` = the batch id, `processed_at_ms`), same
atomic rename, and a rewrite of the same batch id replaces the file whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from marquee.lake import LAKE_TABLES, MINUTE_AGGREGATES, write_table_atomically
from marquee.lake_runs import lake_files_of, split_visible


def run_file_name(run_id: int) -> str:
    """`run-<id>.parquet`, the id zero-padded so that names sort as the ids do."""
    return f"run-{run_id:012d}.parquet"


@dataclass(frozen=True)
class LakeSink:
    """Batches to `lake/<table>/run-<batch id>.parquet` (a `pipelines.sinks.BatchSink`).

    A table without rows is not written, except `minute_aggregates`: every local run
    lands one, so a run whose events were all duplicates or dead letters still shows in
    the lake. A redo of the same batch writes the same files (or none) under the same
    names. The sink is its own picklable factory (`streaming.WritePanes` opens sinks on
    the workers).

    The lake directory must be one every worker writes to: a local path for local mode
    or a single-node Flink, a shared file system otherwise. On Dataflow use Snowflake.
    """

    lake_dir: str

    def __call__(self) -> LakeSink:
        return self

    def table_file(self, table: str, batch_id: int) -> Path:
        return Path(self.lake_dir) / table / run_file_name(batch_id)

    def write_batch(
        self, batch_id: int, processed_at_ms: int, tables: Mapping[str, pl.DataFrame]
    ) -> dict[str, int]:
        """Land a batch's tables, stamped with the batch; rows written per table.

        A table outside the lake contract raises KeyError rather than land unread.
        """
        written: dict[str, int] = {}
        for table, frame in tables.items():
            if table not in LAKE_TABLES:
                raise KeyError(f"{table!r} is not a lake table")
            if frame.is_empty() and table != MINUTE_AGGREGATES:
                written[table] = 0
                continue
            schema = LAKE_TABLES[table]
            stamped = frame.with_columns(
                pl.lit(batch_id, dtype=pl.Int64).alias("run_id"),
                pl.lit(processed_at_ms, dtype=pl.Int64).alias("processed_at_ms"),
            ).select(schema.names)
            path = self.table_file(table, batch_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_table_atomically(stamped.to_arrow().cast(schema), path)
            written[table] = stamped.height
        return written

    def close(self) -> None:
        """Nothing to release: each write opens and closes its file."""


def run_files(lake_dir: Path, table: str, run_id: int) -> list[Path]:
    """The files holding one run's rows in one table: `run-<id>.parquet`, or several
    `run-<id>-*.parquet` (a table landed in parts, e.g. dead letters per segment), or the
    compacted file that holds the run (`pipelines.compaction`), whichever a reader counts
    (`marquee.lake_runs.split_visible`): one copy of the rows."""
    files = [file for file in lake_files_of(lake_dir / table) if file.first <= run_id <= file.last]
    visible, _ = split_visible(files)
    return sorted(Path(file.path) for file in visible)


def read_run_table(lake_dir: Path, table: str, run_id: int) -> pl.DataFrame | None:
    """One run's rows of a table as landed (stamp columns included); None if it has none."""
    files = run_files(lake_dir, table, run_id)
    if not files:
        return None
    frame = pl.concat([pl.read_parquet(path) for path in files], how="diagonal_relaxed")
    return frame.filter(pl.col("run_id") == run_id)
