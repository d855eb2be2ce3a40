"""Great Expectations (1.x) checks of the marts dbt builds, run by `refresh.loop`.

One module per dataset defines its expectation suite in code (`content_daily`); `checkpoint`
assembles the checkpoint, runs it on the mart read from a DuckDB file and writes the result
as JSON under `$MARQUEE_DATA_DIR/gx/`. Importing this package does not import Great
Expectations (slow); the functions do.
"""

from expectations.checkpoint import CheckpointSummary, run_mart_checkpoint

__all__ = ["CheckpointSummary", "run_mart_checkpoint"]
