"""Build the dbt project on its Snowflake target against fakesnow, from a local data directory.

Run as a script in its own process (fakesnow patches the Snowflake connector for the whole
process): `python -m tests.support.dbt_snowflake_driver DATA_DIR WORK_DIR TABLE...`. It loads every
lake table (`PIPELINE.<TABLE>`), the catalogue (`CATALOG.CREATORS`, `CATALOG.CONTENT`) and
the sealed quarantine segments (`QUARANTINE.REJECTIONS`) into a fakesnow database, the way a
production loader fills Snowflake, runs `dbt build --target snowflake` (unit tests excluded:
fakesnow lacks the temporary tables they use) and writes each named table of schema MAIN as
`WORK_DIR/<table>.json`, rows ordered by every column. The Snowflake connection is the one
thing emulated; dbt, the models and the data are real.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from marquee.lake import LAKE_TABLES
from marquee.settings import PROJECT_ROOT

CATALOG_COLUMNS: dict[str, dict[str, pa.DataType]] = {
    "creators": {"creator_id": pa.string(), "name": pa.string(), "created_at": pa.string()},
    "content": {
        "content_id": pa.string(),
        "creator_id": pa.string(),
        "content_type": pa.string(),
        "title": pa.string(),
        "duration_ms": pa.int64(),
        "published_at": pa.string(),
        "expires_at": pa.string(),
        "deleted_at": pa.string(),
        "announces_live_id": pa.string(),
        "source_live_id": pa.string(),
    },
}
QUARANTINE_COLUMNS: dict[str, pa.DataType] = {
    "quarantined_at_ms": pa.int64(),
    "app_id": pa.string(),
    "reason": pa.string(),
    "detail": pa.string(),
    "payload": pa.string(),
    "index": pa.int64(),
    "segment": pa.string(),
}
SNOWFLAKE_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "NUMBER(38, 0)",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
}


def records_table(records: list[dict[str, Any]], columns: dict[str, pa.DataType]) -> pa.Table:
    return pa.Table.from_pylist(
        [{name: record.get(name) for name in columns} for record in records],
        schema=pa.schema(list(columns.items())),
    )


def source_tables(data_dir: Path) -> dict[tuple[str, str], pa.Table]:
    """(schema, table) -> rows, for every source of the dbt project."""
    tables: dict[tuple[str, str], pa.Table] = {}
    for name, schema in LAKE_TABLES.items():
        files = sorted((data_dir / "lake" / name).glob("*.parquet"))
        parts = [pq.read_table(path).select(schema.names).cast(schema) for path in files]
        tables[("PIPELINE", name.upper())] = pa.concat_tables(parts or [schema.empty_table()])
    for name, columns in CATALOG_COLUMNS.items():
        path = data_dir / "catalog" / f"{name}.json"
        records = json.loads(path.read_text()) if path.exists() else []
        tables[("CATALOG", name.upper())] = records_table(records, columns)
    rejections = [
        {**json.loads(line), "segment": path.name}
        for path in sorted((data_dir / "quarantine").glob("*.seg"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    tables[("QUARANTINE", "REJECTIONS")] = records_table(rejections, QUARANTINE_COLUMNS)
    return tables


def load(connection: Any, tables: dict[tuple[str, str], pa.Table]) -> None:
    cursor = connection.cursor()
    for (schema, name), table in tables.items():
        cursor.execute(f"create schema if not exists MARQUEE.{schema}")
        columns = ", ".join(
            f"{field.name.upper()} {SNOWFLAKE_TYPES[field.type]}" for field in table.schema
        )
        cursor.execute(f"create or replace table MARQUEE.{schema}.{name} ({columns})")
        if table.num_rows:
            placeholders = ", ".join(["%s"] * table.num_columns)
            cursor.executemany(
                f"insert into MARQUEE.{schema}.{name} values ({placeholders})",
                [tuple(row.values()) for row in table.to_pylist()],
            )


def main(data_dir: Path, work_dir: Path, outputs: list[str]) -> None:
    import fakesnow
    import snowflake.connector

    os.environ.update(
        MARQUEE_SNOWFLAKE_ACCOUNT="test",
        MARQUEE_SNOWFLAKE_USER="test",
        DBT_ENV_SECRET_SNOWFLAKE_PASSWORD="test",
        MARQUEE_SNOWFLAKE_ROLE="test",
        MARQUEE_SNOWFLAKE_WAREHOUSE="test",
        MARQUEE_SNOWFLAKE_DATABASE="MARQUEE",
        MARQUEE_SNOWFLAKE_SCHEMA="MAIN",
    )
    os.environ.pop("MARQUEE_DATA_DIR", None)
    tables = source_tables(data_dir)
    (work_dir / "fakesnow").mkdir(parents=True)
    project_dir = str(PROJECT_ROOT / "dbt")
    with fakesnow.patch(db_path=str(work_dir / "fakesnow")):
        connection = snowflake.connector.connect(database="MARQUEE", schema="MAIN")
        load(connection, tables)
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(
            [
                "build",
                "--project-dir", project_dir,
                "--profiles-dir", project_dir,
                "--target", "snowflake",
                "--exclude-resource-type", "unit_test",
                "--target-path", str(work_dir / "target"),
                "--log-path", str(work_dir / "logs"),
            ]
        )  # fmt: skip
        if not result.success:
            sys.exit(f"dbt build on the snowflake target failed: {result.exception}")
        cursor = connection.cursor()
        for table in outputs:
            cursor.execute(f"select * from MARQUEE.MAIN.{table.upper()}")
            names = [description[0].lower() for description in cursor.description]
            rows = sorted(
                (dict(zip(names, row, strict=True)) for row in cursor.fetchall()),
                key=lambda row: json.dumps(row, default=str, sort_keys=True),
            )
            (work_dir / f"{table}.json").write_text(json.dumps(rows, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
