"""What the checkpoint validates, read as pandas frames: marts, lake outputs, raw events.

`Sources` opens the warehouse read-only once per checkpoint (the refresh loop runs the
checkpoint on `dbt.duckdb` after the build, before publishing) and reads the lake's committed
run files and the newest sealed segments of the event log and the quarantine. Every read
returns None when its data does not exist (a mart not built, an empty log), which the
checkpoint reports as a failed "dataset present" check for marts and as nothing to check for
raw data that has simply not arrived.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marquee.eventlog.segments import sealed_segments
from marquee.lake_runs import read_pipeline_status, visible_files
from marquee.layout import DataLayout

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

SAMPLE_SEGMENTS = 2
"""Raw events are sampled: the newest sealed segments of the log and of the quarantine."""


@dataclass
class Sources:
    """Readers over one data directory's warehouse file, lake and logs."""

    layout: DataLayout
    warehouse: Path
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    future_horizon_ms: int = 300_000
    lateness_horizon_ms: int = 7 * 24 * 3_600_000
    _connection: duckdb.DuckDBPyConnection | None = None

    @property
    def today(self) -> dt.date:
        """The UTC day of `now_ms`: volume compares the newest day before it."""
        return dt.datetime.fromtimestamp(self.now_ms / 1000, dt.UTC).date()

    def connection(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        if self._connection is None:
            if self.warehouse.exists():
                self._connection = duckdb.connect(str(self.warehouse), read_only=True)
            else:
                self._connection = duckdb.connect()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def has_table(self, table: str) -> bool:
        schema, _, name = table.rpartition(".")
        found = (
            self.connection()
            .execute(
                "select count(*) from information_schema.tables "
                "where table_schema = ? and table_name = ?",
                [schema or "main", name],
            )
            .fetchall()
        )
        return bool(found[0][0])

    def query(self, sql: str, parameters: list[Any] | None = None) -> pd.DataFrame:
        return self.connection().execute(sql, parameters or []).df()

    def mart(self, table: str, sql: str | None = None) -> pd.DataFrame | None:
        """`sql` (default: the whole table) over `table`, None when the table is missing."""
        if not self.has_table(table):
            return None
        return self.query(sql or f"select * from {table}")

    def lake_files(self, table: str) -> list[str]:
        """The committed files of a lake table (runs up to the pipeline's last commit), each
        run's rows once: its run file, or the compacted file that holds it
        (`marquee.lake_runs.visible_files`)."""
        last = read_pipeline_status(self.layout).last_run_id
        if last is None:
            return []
        return visible_files(self.layout.lake_table_dir(table), up_to_run=last)

    def lake(self, table: str, sql: str) -> pd.DataFrame | None:
        """`sql` with `{files}` standing for the committed rows of a lake table."""
        files = self.lake_files(table)
        if not files:
            return None
        source = f"read_parquet({files!r}, union_by_name = true)"
        return self.query(sql.format(files=source))

    def segment_sample(self, directory: Path, columns: list[str]) -> pd.DataFrame | None:
        """The newest sealed segments' records, one row each, with a `segment` column and
        every field in `columns` (null where a record lacks it); None when there are none."""
        import polars as pl

        segments = sealed_segments(directory)[-SAMPLE_SEGMENTS:]
        frames = [
            pl.read_ndjson(path, infer_schema_length=None).with_columns(
                pl.lit(path.name).alias("segment")
            )
            for path in segments
            if path.stat().st_size
        ]
        if not frames:
            return None
        frame = pl.concat(frames, how="diagonal_relaxed")
        wanted = [*columns, "segment"]
        extra = [name for name in frame.columns if name not in wanted]
        frame = frame.with_columns(
            *(pl.lit(None).alias(name) for name in wanted if name not in frame.columns)
        ).select([*wanted, *extra])
        return frame.to_pandas()
