"""The Snowflake sink: a batch's tables into Snowflake, exactly once per batch id.

Production keeps the warehouse in Snowflake (DESIGN.md, decision 4); dbt's Snowflake
target reads these tables as its sources, with the same names and columns as the lake
(`marquee.lake` schemas, upper-cased the way Snowflake folds unquoted names).

Idempotence. A batch (a local run or a streaming pane) may be written again: a redone run
after a crash, a retried bundle. Every table carries `run_id`, so a write is:
1. bulk-load each table's rows into a session-temporary table with `write_pandas` (a
   staged PUT + COPY, fast for large batches; it runs DDL, which would commit an open
   transaction, so it happens first);
2. in one transaction: delete the batch's rows from every table, insert them again from
   the temporary tables, commit.
A retry replaces the batch whole; a failure before the commit leaves the previous state.

Connection settings come from the environment, with dbt's names (dbt/profiles.yml):
MARQUEE_SNOWFLAKE_ACCOUNT, _USER, _ROLE, _WAREHOUSE, _DATABASE, _SCHEMA (default MAIN),
_AUTHENTICATOR (default snowflake), and a secret: MARQUEE_SNOWFLAKE_PASSWORD (or dbt's
DBT_ENV_SECRET_SNOWFLAKE_PASSWORD) or MARQUEE_SNOWFLAKE_PRIVATE_KEY_FILE (key-pair auth).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import polars as pl
import pyarrow as pa
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from marquee.lake import ADDED_COLUMNS, LAKE_TABLES, MINUTE_AGGREGATES
from marquee.lake_runs import lake_files_of
from pipelines.sinks.lake import read_run_table

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
STAMP_COLUMNS = ("run_id", "processed_at_ms")


class SnowflakeSettings(BaseSettings):
    """MARQUEE_SNOWFLAKE_* (the names dbt's Snowflake target uses)."""

    model_config = SettingsConfigDict(env_prefix="MARQUEE_SNOWFLAKE_", extra="ignore")

    account: str
    user: str
    database: str
    schema_name: str = Field(
        default="MAIN", validation_alias=AliasChoices("MARQUEE_SNOWFLAKE_SCHEMA")
    )
    role: str | None = None
    warehouse: str | None = None
    authenticator: str = "snowflake"
    password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "MARQUEE_SNOWFLAKE_PASSWORD", "DBT_ENV_SECRET_SNOWFLAKE_PASSWORD"
        ),
    )
    private_key_file: str | None = None

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "account": self.account,
            "user": self.user,
            "database": self.database,
            "schema": self.schema_name,
            "authenticator": self.authenticator,
            "session_parameters": {"QUERY_TAG": "marquee-pipeline"},
        }
        optional = {
            "role": self.role,
            "warehouse": self.warehouse,
            "private_key_file": self.private_key_file,
            "password": self.password.get_secret_value() if self.password else None,
        }
        kwargs.update({name: value for name, value in optional.items() if value is not None})
        return kwargs


def snowflake_type(field: pa.Field) -> str:
    """The Snowflake column type of a lake column."""
    if pa.types.is_integer(field.type):
        return "NUMBER(38, 0)"
    if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
        return "VARCHAR"
    if pa.types.is_boolean(field.type):
        return "BOOLEAN"
    if pa.types.is_date32(field.type):
        return "DATE"
    if pa.types.is_floating(field.type):
        return "FLOAT"
    raise TypeError(f"no Snowflake type for lake column {field.name}: {field.type}")


def identifier(name: str) -> str:
    """A lake table or column name as an unquoted Snowflake identifier.

    Names come from `marquee.lake`, never from input; the check keeps it that way.
    """
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain lower-case identifier")
    return name.upper()


def create_table_sql(table: str, schema: pa.Schema, temporary: bool = False) -> str:
    columns = ", ".join(
        f"{identifier(field.name)} {snowflake_type(field)}"
        + ("" if field.nullable or temporary else " NOT NULL")
        for field in schema
    )
    kind = "TEMPORARY TABLE" if temporary else "TABLE IF NOT EXISTS"
    return f"CREATE {kind} {load_table(table) if temporary else identifier(table)} ({columns})"


def add_columns_sql(table: str, schema: pa.Schema, columns: list[str]) -> list[str]:
    """`ALTER TABLE ... ADD COLUMN IF NOT EXISTS` for each of these (nullable) columns: a
    table made before they existed gets them, one made since is left as it is."""
    return [
        f"ALTER TABLE {identifier(table)} ADD COLUMN IF NOT EXISTS "
        f"{identifier(name)} {snowflake_type(schema.field(name))}"
        for name in columns
    ]


def load_table(table: str) -> str:
    """The session-temporary table a batch of `table` is bulk-loaded into first."""
    return f"{identifier(table)}__LOAD"


def stamp(table: str, frame: pl.DataFrame, batch_id: int, processed_at_ms: int) -> pl.DataFrame:
    """The frame with the batch's run_id (and processed_at_ms), in the table's column order."""
    schema = LAKE_TABLES[table]
    stamped = frame.with_columns(
        pl.lit(batch_id, dtype=pl.Int64).alias("run_id"),
        pl.lit(processed_at_ms, dtype=pl.Int64).alias("processed_at_ms"),
    )
    return stamped.select(schema.names)


class SnowflakeSink:
    """Writes batches of lake tables into Snowflake; one connection, tables made on first use."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._load_tables: set[str] = set()
        with connection.cursor() as cursor:
            for table, schema in LAKE_TABLES.items():
                cursor.execute(create_table_sql(table, schema))
                for statement in add_columns_sql(table, schema, ADDED_COLUMNS.get(table, [])):
                    cursor.execute(statement)

    @classmethod
    def from_env(cls) -> SnowflakeSink:
        import snowflake.connector

        settings = SnowflakeSettings()  # type: ignore[call-arg]
        return cls(snowflake.connector.connect(**settings.connect_kwargs()))

    def __enter__(self) -> SnowflakeSink:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def write_batch(
        self, batch_id: int, processed_at_ms: int, tables: Mapping[str, pl.DataFrame]
    ) -> dict[str, int]:
        """Replace the batch's rows in every table by these; return rows written per table."""
        from snowflake.connector.pandas_tools import write_pandas

        rows: dict[str, int] = {}
        with self.connection.cursor() as cursor:
            for table, frame in tables.items():
                if table not in LAKE_TABLES:
                    raise KeyError(f"{table!r} is not a lake table")
                self._empty_load_table(cursor, table)
                if frame.is_empty():
                    continue
                stamped = stamp(table, frame, batch_id, processed_at_ms)
                pandas = stamped.to_pandas(use_pyarrow_extension_array=True)
                pandas.columns = [identifier(name) for name in stamped.columns]
                write_pandas(self.connection, pandas, load_table(table), quote_identifiers=False)
                rows[table] = stamped.height
            cursor.execute("BEGIN")
            try:
                for table in LAKE_TABLES:
                    cursor.execute(
                        f"DELETE FROM {identifier(table)} WHERE RUN_ID = %s", (batch_id,)
                    )
                for table in rows:
                    columns = ", ".join(identifier(name) for name in LAKE_TABLES[table].names)
                    cursor.execute(
                        f"INSERT INTO {identifier(table)} ({columns}) "
                        f"SELECT {columns} FROM {load_table(table)}"
                    )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return rows

    def _empty_load_table(self, cursor: Any, table: str) -> None:
        if table in self._load_tables:
            cursor.execute(f"TRUNCATE TABLE {load_table(table)}")
            return
        cursor.execute(create_table_sql(table, LAKE_TABLES[table], temporary=True))
        self._load_tables.add(table)


def lake_run_ids(lake_dir: Path) -> list[int]:
    """Run ids with rows in the lake (every local run writes `minute_aggregates`, so a
    compacted file `compact-<first>-<last>` holds each run first..last), in order."""
    files = lake_files_of(lake_dir / MINUTE_AGGREGATES)
    return sorted({run for file in files for run in range(file.first, file.last + 1)})


def export_lake_runs(lake_dir: Path, sink: SnowflakeSink, run_ids: list[int]) -> int:
    """Write these lake runs to Snowflake (each replaces its earlier copy); rows written."""
    written = 0
    for run_id in run_ids:
        processed_at_ms, tables = lake_run_tables(lake_dir, run_id)
        written += sum(sink.write_batch(run_id, processed_at_ms, tables).values())
    return written


def lake_run_tables(lake_dir: Path, run_id: int) -> tuple[int, dict[str, pl.DataFrame]]:
    """A committed local run's tables as landed in the lake, and its processed_at_ms.

    A run file landed before a table's added columns (`ADDED_COLUMNS`) reads them as nulls.
    """
    tables: dict[str, pl.DataFrame] = {}
    processed_at_ms = 0
    for table in LAKE_TABLES:
        frame = read_run_table(lake_dir, table, run_id)
        if frame is None:
            continue
        if "processed_at_ms" in frame.columns and frame.height:
            processed_at_ms = int(frame["processed_at_ms"][0])
        missing = [name for name in ADDED_COLUMNS.get(table, []) if name not in frame.columns]
        if missing:
            types = pl.DataFrame(LAKE_TABLES[table].empty_table()).schema
            frame = frame.with_columns(
                pl.lit(None, dtype=types[name]).alias(name) for name in missing
            )
        tables[table] = frame.drop([name for name in STAMP_COLUMNS if name in frame.columns])
    return processed_at_ms, tables
