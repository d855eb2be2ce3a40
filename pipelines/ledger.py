"""The pipeline's own state in DuckDB: runs, consumed segments and seen event ids.

Only the pipeline opens this file, with connections held no longer than a run (never
while the loop waits), so it never contends with dbt or the dashboards for DuckDB's
single-writer lock.

Exactly-once protocol of a run (see `local_runner`):
1. record the run as `pending` with the exact list of segments it will consume;
2. compute and land its outputs under names derived from the run id (a rewrite replaces
   them whole);
3. in one transaction, mark the segments consumed, add the run's event ids to the seen set,
   record the content types the run decided and mark the run `committed`.
A crash before 3 leaves the run pending; the next start redoes the same run over the same
segments against the same seen set and content types, which rewrites identical outputs. So
no event is lost and none is counted twice, whatever instant the crash hits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

SCHEMA = """
create table if not exists runs (
    run_id bigint primary key,
    state varchar not null,
    segments varchar[] not null,
    started_at_ms bigint not null,
    committed_at_ms bigint,
    events_read bigint,
    duplicates bigint,
    dead_letters bigint,
    output_rows bigint
);
create table if not exists consumed_segments (
    segment varchar primary key,
    run_id bigint not null
);
create table if not exists seen_events (
    event_id uuid not null,
    received_at_ms bigint not null
);
create table if not exists content_types (
    content_id varchar primary key,
    content_type varchar not null,
    run_id bigint not null
);
"""


@dataclass(frozen=True)
class PlannedRun:
    run_id: int
    segments: list[str]
    redo: bool
    """True when this run was pending after a crash and is being redone."""


@dataclass(frozen=True)
class RunStats:
    events_read: int
    duplicates: int
    dead_letters: int
    output_rows: int


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(SCHEMA)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return connect_with_retry(self.path, read_only=False)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep the state file open while a run is under way.

        Opening it costs DuckDB tens of milliseconds of CPU, and a run opens it three times
        (plan, the seen-id lookup, commit). While one connection is open, DuckDB hands every
        further connection to the same file in this process the open database at no cost.
        Held for a run only, never while the loop waits, so another tool can still open
        the file between runs.
        """
        with self._connect():
            yield

    def plan(self, sealed: list[str], max_segments: int) -> PlannedRun | None:
        """The pending run to redo, or a new run over sealed segments not yet consumed."""
        with self._connect() as conn:
            pending = conn.execute(
                "select run_id, segments from runs where state = 'pending' order by run_id limit 1"
            ).fetchone()
            if pending is not None:
                return PlannedRun(int(pending[0]), list(pending[1]), redo=True)
            consumed = {
                row[0]
                for row in conn.execute(
                    "select segment from consumed_segments where segment in "
                    "(select unnest(?::varchar[]))",
                    [sealed],
                ).fetchall()
            }
            todo = [name for name in sealed if name not in consumed][:max_segments]
            if not todo:
                return None
            (last,) = conn.execute("select coalesce(max(run_id), 0) from runs").fetchone() or (0,)
            run_id = int(last) + 1
            conn.execute(
                "insert into runs (run_id, state, segments, started_at_ms) "
                "values (?, 'pending', ?, ?)",
                [run_id, todo, int(time.time() * 1000)],
            )
            return PlannedRun(run_id, todo, redo=False)

    def commit(
        self,
        run: PlannedRun,
        seen_ids_file: Path,
        stats: RunStats,
        content_types_file: Path | None = None,
    ) -> dict[str, int]:
        """Mark the run's segments consumed, its events seen and the content types it
        decided recorded (`pipelines.content_types`), atomically; return totals.

        The totals are read on the same connection: opening the file costs tens of
        milliseconds, which every run of the local loop would pay again.
        """
        with self._connect() as conn:
            conn.execute("begin transaction")
            conn.execute(
                "insert into consumed_segments select unnest(?::varchar[]), ?",
                [run.segments, run.run_id],
            )
            if seen_ids_file.exists():  # absent when the run had no new event
                conn.execute(
                    "insert into seen_events select event_id::uuid, received_at_ms "
                    "from read_parquet(?)",
                    [str(seen_ids_file)],
                )
            if content_types_file is not None and content_types_file.exists():
                conn.execute(
                    "insert or ignore into content_types "
                    "select content_id, content_type, ? from read_parquet(?)",
                    [run.run_id, str(content_types_file)],
                )
            conn.execute(
                "update runs set state = 'committed', committed_at_ms = ?, events_read = ?, "
                "duplicates = ?, dead_letters = ?, output_rows = ? where run_id = ?",
                [
                    int(time.time() * 1000),
                    stats.events_read,
                    stats.duplicates,
                    stats.dead_letters,
                    stats.output_rows,
                    run.run_id,
                ],
            )
            conn.execute("commit")
            return _totals(conn)

    def totals(self) -> dict[str, int]:
        """Committed runs and events read by them, since the state was created."""
        with self._connect() as conn:
            return _totals(conn)

    def forget_seen_older_than(self, window_ms: int) -> None:
        """Drop event ids received more than `window_ms` before the newest one committed.

        The window ends at the newest `received_at_ms` in the seen set, not at the wall
        clock: a history load commits events received days ago, and the wall clock would
        forget all of them at once while copies of them may still be in the next segments.
        """
        with self._connect() as conn:
            conn.execute(
                "delete from seen_events "
                "where received_at_ms < (select max(received_at_ms) from seen_events) - ?",
                [window_ms],
            )

    def newest_committed_started_before(self, before_ms: int) -> int | None:
        """The newest committed run started before `before_ms` (runs commit in id order, so
        every run up to it is committed); None when there is none."""
        with self._connect() as conn:
            row = conn.execute(
                "select max(run_id) from runs where state = 'committed' and started_at_ms < ?",
                [before_ms],
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def started_at_ms(self, run_ids: list[int]) -> dict[int, int]:
        """When each of these runs was first planned (its lake files' hour for compaction)."""
        if not run_ids:
            return {}
        with self._connect() as conn:
            rows = conn.execute(
                "select run_id, started_at_ms from runs where run_id in (select unnest(?))",
                [run_ids],
            ).fetchall()
        return {int(run_id): int(started) for run_id, started in rows}

    def consumed_segments(self, names: list[str]) -> set[str]:
        """Which of these segments a committed run consumed (retention deletes only those)."""
        if not names:
            return set()
        with self._connect() as conn:
            rows = conn.execute(
                "select c.segment from consumed_segments c join runs r using (run_id) "
                "where r.state = 'committed' and c.segment in (select unnest(?::varchar[]))",
                [names],
            ).fetchall()
        return {str(row[0]) for row in rows}


def _totals(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = conn.execute(
        "select count(*), coalesce(sum(events_read), 0), coalesce(sum(duplicates), 0), "
        "coalesce(sum(dead_letters), 0) from runs where state = 'committed'"
    ).fetchone()
    runs, events, duplicates, dead_letters = row or (0, 0, 0, 0)
    return {
        "runs_committed": int(runs),
        "events_read": int(events),
        "duplicates": int(duplicates),
        "dead_letters": int(dead_letters),
    }


def connect_with_retry(
    path: Path, read_only: bool, attempts: int = 50, pause_s: float = 0.1
) -> duckdb.DuckDBPyConnection:
    """Open the state file, waiting out another process's lock for a few seconds.

    Nothing but the pipeline should open this file; if a tool does (an analyst's DuckDB
    shell, say), the pipeline waits instead of dying, and says so if it gives up.
    """
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or attempt == attempts - 1:
                raise
            time.sleep(pause_s)
    raise AssertionError("unreachable")


def already_seen(
    state_db: Path, event_ids: pl.Series, received_since_ms: int | None = None
) -> pl.Series:
    """Which of these event ids earlier committed runs counted (short-lived, only reads).

    `received_since_ms` limits the search to ids received since then: the seen set is
    appended in receipt order, so DuckDB skips the older row groups by their min/max.
    Opened read-write like the runner's held connection (`Ledger.held`): DuckDB refuses a
    second configuration for a file open in the same process.
    """
    if event_ids.is_empty() or not state_db.exists():
        return pl.Series("event_id", [], dtype=pl.Utf8)
    batch = pl.DataFrame({"event_id": event_ids}).to_arrow()
    with connect_with_retry(state_db, read_only=False) as conn:
        conn.register("batch_ids", batch)
        seen = conn.sql(
            "select b.event_id from batch_ids b semi join ("
            "  select event_id from seen_events where received_at_ms >= $since"
            ") s on s.event_id = b.event_id::uuid",
            params={"since": received_since_ms if received_since_ms is not None else -(2**63)},
        ).pl()
    return seen["event_id"]
