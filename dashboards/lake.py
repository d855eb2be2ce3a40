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

Queries run on an in-memory DuckDB connection. Each run file is read once, by `read_parquet`
of the file (a parameter, never interpolated) with a query's constant extract SQL (e.g. the
live streams' rows), and its small result is kept in memory while the run is in the window:
committed run files never change, so a refresh reads only the runs committed since the last
one, and the query proper runs over the window's extracts, concatenated. All SQL is constant
text (`dashboards/queries/`), never built from input. Results are cached for CACHE_TTL_S and
keyed by the files read, so a newly committed run is read at the next rerun. Nothing here
writes to the data directory.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pandas as pd
import pyarrow as pa
import streamlit as st

from marquee.lake import LAKE_TABLES, MINUTE_AGGREGATES
from marquee.lake_runs import SCHEMA_FILE, PipelineStatus, read_pipeline_status, runs_of
from marquee.layout import DataLayout
from marquee.settings import get_settings

RUNS_READ = 1_800
"""Runs read per query: 60 minutes of event time at the demo's cadence (a run every 2 s)."""
CACHE_TTL_S = 5


@dataclass(frozen=True)
class RunFiles:
    """The lake files one query reads, per table: the newest runs' files, then the table's
    empty `_schema.parquet` so the list is never empty and every column is typed."""

    newest_run_id: int | None
    runs: dict[str, tuple[str, ...]]
    """Per table, its files of the newest runs, oldest first."""
    schema_files: dict[str, str]
    """Per table, its `_schema.parquet`."""


def layout() -> DataLayout:
    return get_settings().layout


def pipeline_status() -> PipelineStatus:
    """The last committed run and its time (`marquee.lake_runs.read_pipeline_status`)."""
    return read_pipeline_status(layout())


def newest_run_files(tables: Sequence[str], runs: int = RUNS_READ) -> RunFiles:
    """The files of the newest `runs` committed runs of each table (module docstring).

    The window is chosen on `minute_aggregates`, which every run writes (the other tables
    skip runs without rows), so all tables cover the same runs.
    """
    lake_dir = layout().lake_dir
    committed = pipeline_status().last_run_id
    minute_runs = [
        run_id
        for run_id in runs_of(lake_dir / MINUTE_AGGREGATES)
        if committed is None or run_id <= committed
    ]
    newest = max(minute_runs, default=None)
    files: dict[str, tuple[str, ...]] = {}
    schema_files: dict[str, str] = {}
    for table in tables:
        if table not in LAKE_TABLES:
            raise KeyError(f"no lake table {table!r}")
        directory = lake_dir / table
        chosen: list[str] = []
        if newest is not None:
            oldest = newest - runs + 1
            chosen = [
                path
                for run_id, path in sorted(runs_of(directory).items())
                if oldest <= run_id <= newest
            ]
        files[table] = tuple(chosen)
        schema_files[table] = str(directory / SCHEMA_FILE)
    if any(not Path(path).exists() for path in schema_files.values()):
        return RunFiles(None, {}, {})  # a lake the pipeline has not set up (yet)
    return RunFiles(newest, files, schema_files)


@dataclass(frozen=True)
class Extract:
    """What a query needs of each run file of one table: constant SQL whose one `?` parameter
    is a list of files of the table (run files and its `_schema.parquet`, which types the
    columns a run file older than them lacks), read with `read_parquet(?, union_by_name =
    true, filename = true)`, selecting and grouping by `filename` so that each file's rows
    can be kept apart. Its result is kept per run file."""

    table: str
    sql: str


class _RunExtracts:
    """Each run file's extracts, computed once: committed run files never change, so a
    refresh reads only the runs committed since the previous one (all of them in one query),
    and a window's extracts are concatenated once into one table for the queries. The new
    files are read in one query split by `filename`: a query per file pays DuckDB's setup
    per file, and rereading the whole window every refresh grows with the window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tables: dict[tuple[str, str, str], pa.Table] = {}
        self._windows: dict[tuple[str, str], tuple[tuple[str, ...], pa.Table]] = {}

    def _read(
        self, con: duckdb.DuckDBPyConnection, name: str, extract: Extract, paths: list[str],
        schema_file: str,
    ) -> pa.Table:  # fmt: skip
        """Extract the new files in one query; keep each file's rows (maybe none) apart."""
        table = con.sql(extract.sql, params=[[*paths, schema_file]]).to_arrow_table()
        table = table.sort_by("filename")
        names = table.column("filename").to_pylist()
        rows = table.drop_columns(["filename"])
        bounds: dict[str, tuple[int, int]] = {}
        for index, filename in enumerate(names):
            first, _ = bounds.get(filename, (index, index))
            bounds[filename] = (first, index + 1)
        for path in paths:
            first, stop = bounds.get(path, (0, 0))
            self._tables[(name, extract.sql, path)] = rows.slice(first, stop - first)
        return rows.slice(0, 0)

    def gather(
        self, con: duckdb.DuckDBPyConnection, files: RunFiles, extracts: Mapping[str, Extract]
    ) -> dict[str, pa.Table]:
        """Per extract name, its rows over the files of the window, as one table."""
        gathered: dict[str, pa.Table] = {}
        with self._lock:
            for name, extract in extracts.items():
                paths = files.runs[extract.table]
                window = self._windows.get((name, extract.sql))
                if window is not None and window[0] == paths:
                    gathered[name] = window[1]
                    continue
                new = [path for path in paths if (name, extract.sql, path) not in self._tables]
                empty = self._read(con, name, extract, new, files.schema_files[extract.table])
                parts = [self._tables[(name, extract.sql, path)] for path in paths]
                combined = pa.concat_tables([empty, *parts]).combine_chunks()
                self._windows[(name, extract.sql)] = (paths, combined)
                gathered[name] = combined
                kept = set(paths)
                for key in [k for k in self._tables if k[:2] == (name, extract.sql)]:
                    if key[2] not in kept:
                        del self._tables[key]  # a run that left the window
        return gathered


_EXTRACTS = _RunExtracts()


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def _load(
    lake_dir: str,
    newest_run_id: int,
    runs: int,
    extracts: tuple[tuple[str, str, str], ...],
    sql: str,
    params: tuple[Any, ...],
    _files: RunFiles,
) -> pd.DataFrame:
    """The cache key is the window (lake, newest committed run, runs read), not the file
    lists (`_files` is left out of the key): committed runs never change, so the window names
    its files, and hashing thousands of paths at each refresh would cost more than that."""
    wanted = {name: Extract(table, extract_sql) for name, table, extract_sql in extracts}
    with duckdb.connect(":memory:") as con:
        con.execute("set enable_progress_bar = false")  # it would print to the app's stdout
        for name, table in _EXTRACTS.gather(con, _files, wanted).items():
            con.register(name, table)
        return con.execute(sql, list(params)).df()


def window(extracts: Mapping[str, Extract], runs: int = RUNS_READ) -> RunFiles:
    """The files of the newest `runs` committed runs of the extracts' tables."""
    return newest_run_files(sorted({extract.table for extract in extracts.values()}), runs)


def query(
    extracts: Mapping[str, Extract],
    sql: str,
    params: Sequence[Any],
    files: RunFiles | None = None,
    runs: int = RUNS_READ,
) -> tuple[int | None, pd.DataFrame | None]:
    """The newest committed run and the rows of a constant SQL text over the newest runs;
    (None, None) before the pipeline's first commit.

    Each extract is available to `sql` as a relation under its name: the concatenation of
    its rows over the newest `runs` runs of its table (`files`, from `window`, when several
    queries read the same runs). `params` are `sql`'s `?` parameters. The result is cached
    for CACHE_TTL_S, keyed by the newest run, so a newly committed run is read at the next
    rerun.
    """
    files = files if files is not None else window(extracts, runs)
    if files.newest_run_id is None:
        return None, None
    frame = _load(
        str(layout().lake_dir),
        files.newest_run_id,
        runs,
        tuple((name, extract.table, extract.sql) for name, extract in sorted(extracts.items())),
        sql,
        tuple(params),
        files,
    )
    return files.newest_run_id, frame


def _file_version(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_size)


class _NamedRecord(msgspec.Struct):
    """The fields of a catalogue record the pages read; the others are skipped unparsed."""

    creator_id: Any = None
    content_id: Any = None
    name: Any = None
    title: Any = None


_CATALOGUE_DECODER = msgspec.json.Decoder(list[_NamedRecord])
_catalogue_lock = threading.Lock()
_catalogues: dict[str, tuple[tuple[int, int] | None, dict[str, str]]] = {}
"""Per catalogue file: its version and id -> name, kept for the process (the files are tens
of MB at a thousand creators: parsing one took longer than the rest of the page, and a
`st.cache_data` entry is pickled, a dict of 100k names too)."""


def _names(
    path: Path, version: tuple[int, int] | None, id_field: str, name_field: str
) -> dict[str, str]:
    """id -> name of the catalogue file at `path` (empty when missing or unreadable), parsed
    again only when the file's version changes."""
    key = str(path)
    with _catalogue_lock:
        held = _catalogues.get(key)
        if held is not None and held[0] == version:
            return held[1]
    try:
        records = _CATALOGUE_DECODER.decode(path.read_bytes())
    except (OSError, msgspec.DecodeError):  # missing, being rewritten, or another shape
        records = []
    names = {
        str(getattr(record, id_field)): str(getattr(record, name_field))
        for record in records
        if getattr(record, id_field) and getattr(record, name_field)
    }
    with _catalogue_lock:
        _catalogues[key] = (version, names)
    return names


def catalogue_names() -> tuple[dict[str, str], dict[str, str]]:
    """(creator_id -> name, content_id -> title) from the catalogue files the API writes;
    a creator or content without one is absent (pages show the id). Read from the files
    rather than the warehouse so a stream that went on air since the last build has its
    name already."""
    paths = layout()
    creators_path = paths.catalog_dir / "creators.json"
    content_path = paths.catalog_content_file
    return (
        _names(creators_path, _file_version(creators_path), "creator_id", "name"),
        _names(content_path, _file_version(content_path), "content_id", "title"),
    )
