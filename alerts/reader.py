"""The recent past of the lake, as the alert evaluator judges it, kept up to date cheaply.

The evaluator reads the minute-level data the pipeline commits (DESIGN.md decision 6), not
the published marts, which are rebuilt about once a minute. Each refresh reads only the
runs committed since the previous one (`marquee.lake_runs`: runs up to the status file's
`last_run_id`, so a run being redone after a crash is never read), merges their
`view_summaries` partials into the views it holds (the merge is associative) and appends
their `minute_aggregates` rows, then drops what is older than the lookback: views whose
last event and minutes that are before it. The first refresh reads the runs whose files
were written within the lookback (file times; no file is opened to choose).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import duckdb
import polars as pl

from alerts.evaluate import LakeData
from alerts.metrics import COUNTED_EVENTS, MINUTE_COLUMNS, MINUTE_MS, VIEW_COLUMNS, merge_views
from marquee.lake import MINUTE_AGGREGATES, VIEW_SUMMARIES
from marquee.lake_runs import SCHEMA_FILE, PipelineStatus, runs_of
from marquee.layout import DataLayout

log = logging.getLogger("alerts")

_COLUMNS = {
    VIEW_SUMMARIES: VIEW_COLUMNS,
    MINUTE_AGGREGATES: [*MINUTE_COLUMNS, *COUNTED_EVENTS],
}
_SQL = {
    table: f"select {', '.join(columns)} from read_parquet(?, union_by_name = true)"
    for table, columns in _COLUMNS.items()
}
"""Constant SQL per table (column names from this package, never from input); the one
parameter is the list of files, the table's `_schema.parquet` last, which types the
columns a run file older than them lacks."""


@dataclass
class LakeReader:
    layout: DataLayout
    lookback_ms: int
    read_up_to: int | None = None
    """The newest run read; None before the first refresh."""
    views: pl.DataFrame | None = None
    minutes: pl.DataFrame | None = None
    _con: duckdb.DuckDBPyConnection = field(
        default_factory=lambda: duckdb.connect(":memory:"), repr=False
    )

    def _read(self, table: str, files: list[str]) -> pl.DataFrame:
        schema_file = str(self.layout.lake_table_dir(table) / SCHEMA_FILE)
        arrow = self._con.sql(_SQL[table], params=[[*files, schema_file]]).to_arrow_table()
        frame = pl.from_arrow(arrow)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _new_runs(self, committed: int, now_ms: int) -> list[int]:
        runs = runs_of(self.layout.lake_table_dir(MINUTE_AGGREGATES))
        if self.read_up_to is not None:
            return sorted(run for run in runs if self.read_up_to < run <= committed)
        since_s = (now_ms - self.lookback_ms) / 1000
        recent = []
        for run, path in runs.items():
            try:
                if run <= committed and os.stat(path).st_mtime >= since_s:
                    recent.append(run)
            except FileNotFoundError:
                continue
        return sorted(recent)

    def refresh(self, status: PipelineStatus, now_ms: int) -> LakeData:
        """Read the runs committed since the last refresh; the data of the lookback."""
        committed = status.last_run_id
        if committed is not None and self.read_up_to is not None and committed < self.read_up_to:
            log.warning("the pipeline's runs restarted below %d: reading anew", self.read_up_to)
            self.read_up_to, self.views, self.minutes = None, None, None
        if committed is not None and (self.layout.lake_dir / MINUTE_AGGREGATES).is_dir():
            runs = set(self._new_runs(committed, now_ms))
            files = {
                table: [
                    path for run, path in sorted(runs_of(self.layout.lake_table_dir(table)).items())
                    if run in runs
                ]
                for table in _COLUMNS
            }  # fmt: skip
            partials = self._read(VIEW_SUMMARIES, files[VIEW_SUMMARIES])
            held_views = [] if self.views is None else [self.views.drop("start_ms")]
            self.views = merge_views(pl.concat([*held_views, partials], how="diagonal_relaxed"))
            minutes = self._read(MINUTE_AGGREGATES, files[MINUTE_AGGREGATES])
            self.minutes = minutes if self.minutes is None else pl.concat([self.minutes, minutes])
            self.read_up_to = committed
        cutoff = now_ms - self.lookback_ms
        if self.views is not None and self.minutes is not None:
            self.views = self.views.filter(pl.col("last_event_ms") >= cutoff)
            self.minutes = self.minutes.filter(pl.col("epoch_minute") >= cutoff // MINUTE_MS)
            return LakeData(self.views, self.minutes, status)
        return LakeData(_empty_views(), _empty_minutes(), status)


def _empty_views() -> pl.DataFrame:
    frame = pl.DataFrame(
        schema={
            **dict.fromkeys(VIEW_COLUMNS, pl.Int64),
            **dict.fromkeys(
                ["app_id", "session_id", "content_id", "creator_id", "content_type", "platform"],
                pl.String,
            ),
            "started": pl.Boolean,
            "failed": pl.Boolean,
        }
    )
    return merge_views(frame)


def _empty_minutes() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            **dict.fromkeys([*MINUTE_COLUMNS, *COUNTED_EVENTS], pl.Int64),
            **dict.fromkeys(["content_id", "creator_id", "content_type", "platform"], pl.String),
        }
    )
