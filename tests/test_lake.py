"""The lake's `_schema.parquet` files on a real data directory (marquee.lake.ensure_lake)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from marquee.lake import (
    LAKE_TABLES,
    MINUTE_ADDED_MEASURES,
    MINUTE_AGGREGATES,
    MINUTE_AGGREGATES_SCHEMA,
    ensure_lake,
    write_table_atomically,
)
from marquee.layout import DataLayout

pytestmark = pytest.mark.unit


def test_a_schema_file_from_before_new_columns_is_replaced(tmp_path: Path) -> None:
    """A data directory from an older release: dbt must see the added measures' columns
    before the first run that writes them, or its models fail on the missing columns."""
    layout = DataLayout(tmp_path / "data")
    directory = layout.lake_table_dir(MINUTE_AGGREGATES)
    directory.mkdir(parents=True)
    old_schema = pa.schema(
        [field for field in MINUTE_AGGREGATES_SCHEMA if field.name not in MINUTE_ADDED_MEASURES]
    )
    write_table_atomically(old_schema.empty_table(), directory / "_schema.parquet")

    ensure_lake(layout)

    for table, schema in LAKE_TABLES.items():
        assert pq.read_schema(layout.lake_table_dir(table) / "_schema.parquet").equals(schema)
