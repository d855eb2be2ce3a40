"""Great Expectations (1.x) checks of every layer: raw events, the lake, the marts.

One module per dataset under `expectations/suites/` defines how to read it and its suite in
code, each expectation `critical` or `warning`; `checkpoint` runs them all after each build
(`refresh.loop`) or on demand (`python -m expectations`), writes the report with its history
and renders Data Docs under `$MARQUEE_DATA_DIR/gx/`. Importing this package does not import
Great Expectations (slow); running the checkpoint does.
"""

from expectations.checkpoint import CheckpointReport, Failure, read_latest_report, run_checkpoint

__all__ = ["CheckpointReport", "Failure", "read_latest_report", "run_checkpoint"]
