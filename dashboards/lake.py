"""Read-only access of the dashboards to the lake: the minute-level tables the pipeline commits.

The published warehouse (`dashboards.data`) is rebuilt about once a minute; the Live now page
cannot wait for it. It reads the Parquet files the pipeline lands per committed run instead
(`data_dir/lake/<table>/run-<run id>.parquet`, `marquee.lake` has the tables and grains), the
pipeline's status file (`state/pipeline_status.json`: the last committed run and when) and the
catalogue files the API writes (`data_dir/catalog/*.json`: creator names, content titles).

Which files: only the newest runs. The lake holds one file per run and table, a run every
~2 s in the demo, so after a day it holds tens of thousands of files; a page reads the runs
numbered from `newest - RUNS_READ + 1` to the newest committed one (run numbers are the
files' names, so no file is opened to choose). RUNS_READ = 1,800 runs are the last 60 minutes
at the demo's 2 s cadence (longer when the pipeline runs less often: fewer, larger runs).
Rows of a minute that reach the lake in an older run than those (events later than an hour)
are not counted; the published marts count them. A run whose files are written but not yet
committed (`run id > last_run_id`) is left out, so a redo after a crash is never read twice.

Queries run on an in-memory DuckDB connection over `read_parquet` of those files, passed as a
list parameter; the SQL is constant text (`dashboards/queries/`), never built from input.
Results are cached for CACHE_TTL_S and keyed by the file lists, so a newly committed run is
read at the next rerun. Nothing here writes to the data directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from marquee.lake import LAKE_TABLES, MINUTE_AGGREGATES
from marquee.layout import DataLayout
from marquee.settings import get_settings

RUNS_READ = 1_800
"""Runs read per query: 60 minutes of event time at the demo's cadence (a run every 2 s)."""
CACHE_TTL_S = 5
SCHEMA_FILE = "_schema.parquet"
RUN_PREFIX = "run-"
RUN_SUFFIX = ".parquet"


@dataclass(frozen=True)
class PipelineStatus:
    """The pipeline's last commit (`state/pipeline_status.json`), None before its first."""

    last_run_id: int | None
    last_commit_at_ms: int | None


@dataclass(frozen=True)
class RunFiles:
    """The lake files one query reads, per table: the newest runs' files, then the table's
    empty `_schema.parquet` so the list is never empty and every column is typed."""

    newest_run_id: int | None
    files: dict[str, tuple[str, ...]]

    def of(self, table: str) -> list[str]:
        return list(self.files[table])


def layout() -> DataLayout:
    return get_settings().layout


def pipeline_status() -> PipelineStatus:
    """The last committed run and its time; both None when the pipeline has not committed
    yet or its status file cannot be read (it is replaced by a rename, never half-written)."""
    try:
        status = json.loads(layout().pipeline_status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return PipelineStatus(None, None)
    run_id = status.get("last_run_id")
    committed = status.get("last_commit_at_ms")
    return PipelineStatus(
        int(run_id) if isinstance(run_id, int) else None,
        int(committed) if isinstance(committed, int) else None,
    )


def _run_id(name: str) -> int | None:
    """The run of `run-000000000042.parquet` (42); None for other files (the schema file,
    a temporary `.run-....tmp`, dead letters' `run-<id>-<segment>.parquet`)."""
    if not (name.startswith(RUN_PREFIX) and name.endswith(RUN_SUFFIX)):
        return None
    digits = name[len(RUN_PREFIX) : -len(RUN_SUFFIX)]
    return int(digits) if digits.isdigit() else None


def _runs_of(directory: Path) -> dict[int, str]:
    try:
        with os.scandir(directory) as entries:
            return {
                run_id: entry.path
                for entry in entries
                if (run_id := _run_id(entry.name)) is not None
            }
    except FileNotFoundError:
        return {}


def newest_run_files(tables: Sequence[str], runs: int = RUNS_READ) -> RunFiles:
    """The files of the newest `runs` committed runs of each table (module docstring).

    The window is chosen on `minute_aggregates`, which every run writes (the other tables
    skip runs without rows), so all tables cover the same runs.
    """
    lake_dir = layout().lake_dir
    committed = pipeline_status().last_run_id
    minute_runs = [
        run_id
        for run_id in _runs_of(lake_dir / MINUTE_AGGREGATES)
        if committed is None or run_id <= committed
    ]
    newest = max(minute_runs, default=None)
    files: dict[str, tuple[str, ...]] = {}
    for table in tables:
        if table not in LAKE_TABLES:
            raise KeyError(f"no lake table {table!r}")
        directory = lake_dir / table
        chosen: list[str] = []
        if newest is not None:
            oldest = newest - runs + 1
            chosen = [
                path
                for run_id, path in sorted(_runs_of(directory).items())
                if oldest <= run_id <= newest
            ]
        schema_file = directory / SCHEMA_FILE
        files[table] = (*chosen, str(schema_file)) if schema_file.exists() else tuple(chosen)
    return RunFiles(newest, files)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def _load(newest_run_id: int | None, sql: str, params: tuple[Any, ...]) -> pd.DataFrame:
    with duckdb.connect(":memory:") as con:
        return con.execute(sql, [list(p) if isinstance(p, tuple) else p for p in params]).df()


def query(sql: str, params: Sequence[Any], newest_run_id: int | None) -> pd.DataFrame:
    """Rows of a constant SQL text over lake files, on an in-memory DuckDB connection.

    `params` are the `?` parameters; a file list is one parameter (a list of paths, from
    `newest_run_files`). Cached for CACHE_TTL_S, keyed by the newest run and the parameters.
    """
    frozen = tuple(tuple(p) if isinstance(p, list) else p for p in params)
    return _load(newest_run_id, sql, frozen)


def _file_version(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def _load_catalogue(
    creators_path: str,
    content_path: str,
    versions: tuple[tuple[int, int] | None, tuple[int, int] | None],
) -> tuple[dict[str, str], dict[str, str]]:
    def records(path: str) -> list[dict[str, Any]]:
        try:
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [record for record in loaded if isinstance(record, dict)]

    creators = {
        str(record["creator_id"]): str(record["name"])
        for record in records(creators_path)
        if record.get("creator_id") and record.get("name")
    }
    titles = {
        str(record["content_id"]): str(record["title"])
        for record in records(content_path)
        if record.get("content_id") and record.get("title")
    }
    return creators, titles


def catalogue_names() -> tuple[dict[str, str], dict[str, str]]:
    """(creator_id -> name, content_id -> title) from the catalogue files the API writes;
    a creator or content without one is absent (pages show the id). Read from the files
    rather than the warehouse so a stream that went on air since the last build has its
    name already."""
    paths = layout()
    creators_path = paths.catalog_dir / "creators.json"
    content_path = paths.catalog_content_file
    versions = (_file_version(creators_path), _file_version(content_path))
    return _load_catalogue(str(creators_path), str(content_path), versions)
