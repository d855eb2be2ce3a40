"""Where a pipeline's merged outputs land: the lake (read by DuckDB) and Snowflake.

A *batch* is one unit of output: a local-mode run, or one pane of the streaming pipeline.
Each sink writes a batch's tables under the batch's id (the lake tables' `run_id` column)
and is idempotent per id: writing the same batch again replaces what the first attempt
wrote, so a retried bundle or a redone run never counts twice (DESIGN.md, decision 2).

- `lake`: Parquet files `lake/<table>/run-<id>.parquet`. This *is* the DuckDB sink: dbt's
  DuckDB target and the dashboards read the lake through `read_parquet`, so the pipeline
  never holds the DuckDB writer lock (docs/architecture.md).
- `snowflake`: the same tables in Snowflake through snowflake-connector-python, for the
  production warehouse and dbt's Snowflake target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import polars as pl


class BatchSink(Protocol):
    """Where a batch of merged tables lands, idempotent per batch id (see above).

    Local mode writes each run through the lake sink; the streaming job writes each pane
    through the lake or the Snowflake sink; exports write committed runs to Snowflake.
    """

    def write_batch(
        self, batch_id: int, processed_at_ms: int, tables: Mapping[str, pl.DataFrame]
    ) -> Mapping[str, int]:
        """Replace the batch's rows of these tables by these frames; rows written per table."""
        ...

    def close(self) -> None:
        """Release what the sink holds (a connection); the sink is not used afterwards."""
        ...
