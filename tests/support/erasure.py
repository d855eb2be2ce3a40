"""Privacy erasure tests: a viewer's pseudonym, where it is found, and store snapshots.

`places_holding` searches every store the erasure covers (segments and quarantine as
bytes, every string column of the lake's Parquet files, every text column of every table
of the warehouse and the published copy) and names where a value was found. `snapshot`
reads every table of a DuckDB file, or every lake table, as sorted rows, so a test can
compare a store before and after an erasure with the pseudonym replaced by the token.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb

from marquee.intake.enrich import Pseudonymiser
from marquee.intake.quarantine import QuarantineRecord, encode_records
from marquee.layout import DataLayout
from marquee.privacy.jobs import read_job
from marquee.settings import Settings
from pipelines.local_runner import LocalRunner
from tests.support.segments import golden_log_lines, write_segments


def pseudonym_of(data_dir: Path, app_id: str, viewer_id: str) -> str:
    """The viewer's pseudonym in an app, with the data directory's local key."""
    key = Settings(data_dir=data_dir).resolved_pseudonym_key()
    return Pseudonymiser(key)(app_id, viewer_id)


def token_of(data_dir: Path, erasure_id: str) -> str:
    job = read_job(DataLayout(data_dir), erasure_id)
    assert job is not None
    return job.token


def _text_tables(connection: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return [
        (schema, table, column)
        for schema, table, column in connection.execute(
            "select c.table_schema, c.table_name, c.column_name from information_schema.columns c "
            "join information_schema.tables t using (table_catalog, table_schema, table_name) "
            "where t.table_type = 'BASE TABLE' and c.data_type = 'VARCHAR' "
            "and c.table_catalog = current_database()"
        ).fetchall()
    ]


def _database_hits(path: Path, value: str) -> list[str]:
    if not path.exists():
        return []
    hits = []
    with duckdb.connect(str(path), read_only=True) as connection:
        for schema, table, column in _text_tables(connection):
            (count,) = connection.execute(
                f'select count(*) from "{schema}"."{table}" where contains("{column}", $v)',
                {"v": value},
            ).fetchone() or (0,)
            if count:
                hits.append(f"{path.name}:{schema}.{table}.{column} ({count})")
    return hits


def _lake_hits(lake_dir: Path, value: str) -> list[str]:
    hits = []
    with duckdb.connect() as connection:
        for path in sorted(lake_dir.rglob("*.parquet")):
            schema = connection.execute(
                "select name, type from parquet_schema($p)", {"p": str(path)}
            ).fetchall()
            for name, kind in schema:
                if kind != "BYTE_ARRAY":
                    continue
                (count,) = connection.execute(
                    f'select count(*) from read_parquet($p) where contains("{name}", $v)',
                    {"p": str(path), "v": value},
                ).fetchone() or (0,)
                if count:
                    hits.append(f"lake:{path.parent.name}/{path.name}.{name} ({count})")
    return hits


def places_holding(data_dir: Path, value: str) -> list[str]:
    """Where `value` is found: segment and quarantine files, the expectations' reports and
    the refresh status, lake files, both databases (by SQL, and their bytes)."""
    layout = DataLayout(data_dir)
    hits = []
    for directory in (layout.log_dir, layout.quarantine_dir):
        for path in sorted(directory.iterdir()) if directory.exists() else []:
            if path.is_file() and value.encode() in path.read_bytes():
                hits.append(f"{directory.name}/{path.name}")
    reports = list(layout.gx_dir.rglob("*")) if layout.gx_dir.exists() else []
    for path in [*reports, layout.refresh_status]:
        if path.is_file() and value.encode() in path.read_bytes():
            hits.append(f"reports/{path.name}")
    hits += _lake_hits(layout.lake_dir, value)
    for database in (layout.dbt_db, layout.serving_db):
        hits += _database_hits(database, value)
        if database.exists() and value.encode() in database.read_bytes():
            hits.append(f"{database.name}:bytes")  # a row gone but its bytes left in the file
    return hits


def _rekeyed(rows: list[tuple[Any, ...]], old: str, new: str) -> list[tuple[Any, ...]]:
    return sorted(
        (
            tuple(value.replace(old, new) if isinstance(value, str) else value for value in row)
            for row in rows
        ),
        key=repr,
    )


def snapshot(path: Path, rekey: tuple[str, str] = ("", "")) -> dict[str, list[tuple[Any, ...]]]:
    """Every base table of a DuckDB file as sorted rows, `rekey[0]` replaced by `rekey[1]`."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        names = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_catalog = current_database()"
        ).fetchall()
        for schema, table in names:
            rows = connection.execute(f'select * from "{schema}"."{table}"').fetchall()
            tables[f"{schema}.{table}"] = (
                _rekeyed(rows, *rekey) if rekey[0] else sorted(rows, key=repr)
            )
    return tables


def lake_snapshot(
    lake_dir: Path, rekey: tuple[str, str] = ("", "")
) -> dict[str, list[tuple[Any, ...]]]:
    """Every lake table's rows (all its files), without run bookkeeping, sorted."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect() as connection:
        for directory in sorted(path for path in lake_dir.iterdir() if path.is_dir()):
            rows = connection.execute(
                "select * exclude (run_id, processed_at_ms) from read_parquet($g, "
                "union_by_name = true)"
                if directory.name != "dead_letters"
                else "select * exclude (run_id) from read_parquet($g, union_by_name = true)",
                {"g": str(directory / "*.parquet")},
            ).fetchall()
            tables[directory.name] = _rekeyed(rows, *rekey) if rekey[0] else sorted(rows, key=repr)
    return tables


def rekeyed(
    tables: dict[str, list[tuple[Any, ...]]], old: str, new: str
) -> dict[str, list[tuple[Any, ...]]]:
    """A snapshot as it should be after an erasure: `old` replaced by `new` everywhere."""
    return {name: _rekeyed(rows, old, new) for name, rows in tables.items()}


def build_stores(layout: DataLayout, pseudonym: str) -> None:
    """The golden scenario (key `k`, app `app`) as 36 sealed segments, four quarantine
    records (two of `pseudonym`), the lake of 12 pipeline runs, and a warehouse and a
    published copy holding four of the lake's tables."""
    lines, _ = golden_log_lines()
    write_segments(layout, [[line] for line in lines])
    layout.quarantine_dir.mkdir(parents=True, exist_ok=True)
    for index in range(4):
        record = QuarantineRecord(
            quarantined_at_ms=int(time.time() * 1000),
            app_id="app",
            reason="invalid_value",
            detail="platform",
            payload=f'{{"viewer_id":"{pseudonym if index % 2 else "other"}"}}',
        )
        (layout.quarantine_dir / f"{int(time.time() * 1000):013d}-q-{index:06d}.seg").write_bytes(
            encode_records([record])
        )
    LocalRunner(layout, max_segments_per_run=3).drain()
    with duckdb.connect(str(layout.dbt_db)) as connection:
        for table in (
            "view_summaries",
            "story_viewer_facts",
            "live_viewer_facts",
            "minute_aggregates",
        ):
            glob = str(layout.lake_table_dir(table) / "*.parquet")
            connection.execute(f"create table {table} as select * from read_parquet('{glob}')")
    layout.serving_db.write_bytes(layout.dbt_db.read_bytes())
