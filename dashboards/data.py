"""Data access of the dashboards: the only module that opens the serving warehouse.

dbt builds into its own DuckDB file; after each good build the file is published as
`serving.duckdb` by an atomic rename, so the file can be missing (before the first build) or be
replaced at any moment. Queries share one read-only connection per published file (each query
on its own cursor, so threads can query at once): DuckDB keeps the blocks it read in memory,
where a connection per query read and decompressed them again each time. When the file's
identity changes the old connection is closed once its queries finish, and the new file is
opened. A query retries a few times, on a freshly opened connection, when DuckDB reports an
I/O or lock error. Results are cached for a few seconds with `st.cache_data`; the cache key
includes the file's inode, modification time and size, so a newly published warehouse is read
at the next rerun rather than after the TTL.

All SQL here is constant text with `?` parameters; user input never becomes SQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import pandas as pd
import streamlit as st

from marquee.settings import get_settings

CACHE_TTL_S = 10
OPEN_ATTEMPTS = 5
RETRY_BASE_DELAY_S = 0.05

T = TypeVar("T")

FileVersion = tuple[int, int, int]
ServingState = Literal["missing", "no_table", "empty", "ready"]


class ServingUnavailableError(RuntimeError):
    """serving.duckdb could not be read after several attempts."""


@dataclass(frozen=True)
class ServingStatus:
    """What the serving warehouse holds, to decide between an empty state and the page."""

    state: ServingState
    rows: int = 0
    first_day: date | None = None
    last_day: date | None = None
    newest_minute_utc: datetime | None = None


def serving_db_path() -> Path:
    return get_settings().layout.serving_db


def _file_version(path: Path) -> FileVersion | None:
    """Identity of the published file, or None when it does not exist (yet).

    Each publish renames a new file into place, so the inode changes even when two builds
    land within the same timestamp tick and have the same size.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


@dataclass
class _Shared:
    """The read-only connection to one version of the published file, and its queries running."""

    path: Path
    version: FileVersion
    connection: duckdb.DuckDBPyConnection
    in_use: int = 0
    retired: bool = False


_shared_lock = threading.Condition()
_shared: _Shared | None = None
"""The connection new queries use; at most one file is open besides those still finishing."""
_retiring: list[_Shared] = []


def _retire(shared: _Shared) -> None:
    """Stop handing out `shared`; close it now if idle, else when its last query ends. Called
    with the lock held."""
    global _shared
    if _shared is shared:
        _shared = None
    if not shared.retired:
        shared.retired = True
        _retiring.append(shared)
    if shared.in_use == 0:
        shared.connection.close()
        _retiring.remove(shared)
        _shared_lock.notify_all()


def _acquire(path: Path) -> tuple[_Shared, duckdb.DuckDBPyConnection]:
    """A cursor on the shared connection to the file now at `path`, opening it if needed.

    DuckDB hands out one database instance per path within a process, so while a connection
    to the replaced file is open, opening the path again would return the old data: the old
    connection is closed first, after the queries still running on it.
    """
    global _shared
    with _shared_lock:
        version = _file_version(path)
        if version is None:
            raise duckdb.IOException(f"{path} does not exist")
        current = _shared
        if current is not None and (current.path, current.version) != (path, version):
            _retire(current)
            current = None
        if current is None:
            while any(old.path == path for old in _retiring):
                _shared_lock.wait()
            current = _Shared(path, version, duckdb.connect(str(path), read_only=True))
            _shared = current
        cursor = current.connection.cursor()
        current.in_use += 1
        return current, cursor


def _release(shared: _Shared, cursor: duckdb.DuckDBPyConnection, broken: bool) -> None:
    with _shared_lock:
        cursor.close()
        shared.in_use -= 1
        if broken or shared.retired:
            _retire(shared)


def _with_connection(path: Path, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
    """Run `work` on a cursor of the shared read-only connection, retrying on I/O and lock
    errors with a newly opened connection.

    A rename that replaces the file between our existence check and the open, or a reader that
    races the publisher, shows up as an IOException; a moment later the new file is in place.
    """
    last_error: duckdb.Error | None = None
    for attempt in range(OPEN_ATTEMPTS):
        try:
            shared, cursor = _acquire(path)
        except duckdb.IOException as error:
            last_error = error
            time.sleep(RETRY_BASE_DELAY_S * 2**attempt)
            continue
        broken = False
        try:
            return work(cursor)
        except duckdb.IOException as error:
            last_error = error
            broken = True
        finally:
            _release(shared, cursor, broken)
        time.sleep(RETRY_BASE_DELAY_S * 2**attempt)
    raise ServingUnavailableError(f"could not read {path}: {last_error}") from last_error


def _as_utc(value: datetime | None) -> datetime | None:
    """DuckDB TIMESTAMP comes back naive and is UTC by the project's convention."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_STATUS_SQL = """
select count(*), min(day), max(day), max(last_minute_start_at)
from main.content_daily_performance
"""

_SERVED_TABLES_SQL = """
select 1 from main.content_daily_performance, main.creator_daily_performance limit 0
"""
"""Binds every mart the pages read (the day span and freshness, the creator-day numbers)."""


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def _load_status(path: str, version: FileVersion) -> ServingStatus:
    def work(con: duckdb.DuckDBPyConnection) -> ServingStatus:
        try:
            con.execute(_SERVED_TABLES_SQL)
            row = con.execute(_STATUS_SQL).fetchone()
        except duckdb.CatalogException:
            return ServingStatus(state="no_table")
        assert row is not None
        rows, first_day, last_day, newest_minute = row
        if not rows:
            return ServingStatus(state="empty")
        return ServingStatus(
            state="ready",
            rows=int(rows),
            first_day=first_day,
            last_day=last_day,
            newest_minute_utc=_as_utc(newest_minute),
        )

    return _with_connection(Path(path), work)


def serving_status() -> ServingStatus:
    """State of serving.duckdb: missing, without the table, empty, or ready with its date span."""
    path = serving_db_path()
    version = _file_version(path)
    if version is None:
        return ServingStatus(state="missing")
    return _load_status(str(path), version)


def _query_frame(path: Path, sql: str, params: Sequence[Any]) -> pd.DataFrame:
    return _with_connection(path, lambda con: con.execute(sql, list(params)).df())


@st.cache_data(ttl=CACHE_TTL_S, max_entries=512, show_spinner=False)
def _load_query(path: str, version: FileVersion, sql: str, params: tuple[Any, ...]) -> pd.DataFrame:
    return _query_frame(Path(path), sql, params)


def query(sql: str, params: Sequence[Any] = (), columns: Sequence[str] = ()) -> pd.DataFrame:
    """Rows of a constant SQL text with `?` parameters, from the published warehouse.

    Cached for CACHE_TTL_S, keyed by the published file's identity, so a new publish is read
    at the next rerun. When no warehouse is published yet the frame is empty, with `columns`.
    Pages keep their SQL in `dashboards/queries/`; no SQL is ever built from input.
    """
    path = serving_db_path()
    version = _file_version(path)
    if version is None:
        return pd.DataFrame(columns=list(columns))
    return _load_query(str(path), version, sql, tuple(params))


def table_exists(name: str) -> bool:
    """Whether the published warehouse has the table main.<name> (a page then explains
    which mart is missing rather than failing)."""
    frame = query(
        "select count(*) as n from information_schema.tables "
        "where table_schema = 'main' and table_name = ?",
        [name],
        columns=["n"],
    )
    return bool(len(frame)) and int(frame["n"].iloc[0]) > 0
