"""`python -m benchmarks [--events N]`: run every benchmark and print its figures.

The dbt build-time benchmark needs a 30-day, 1,000-creator history (about 57M events; it is
cached under .bench-cache/ after the first run, which takes about 40 minutes here), so it
runs only when asked: `--dbt-build` (which `make bench` passes), and `--dbt-rate` for a
smaller history. The dashboard render benchmark reads that history when it has been built,
else builds a smaller one of its own (benchmarks/dashboards.py); `--no-dashboards` skips it.
The expectations checkpoint benchmark builds a day for 1,000 creators once (cached, a few
minutes; benchmarks/checkpoint.py); `--no-checkpoint` skips it."""

from __future__ import annotations

import argparse

from benchmarks import (
    checkpoint,
    dashboards,
    dbt_build,
    ingest,
    lag,
    live_freshness,
    pipeline,
    show,
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--pipeline-events",
        type=int,
        nargs="+",
        default=list(pipeline.SIZES),
        help="event counts the pipeline is measured at (fixed costs show at the small one)",
    )
    parser.add_argument("--lag-probes", type=int, default=20)
    parser.add_argument("--live-probes", type=int, default=20)
    parser.add_argument(
        "--dbt-build", action="store_true", help="also time full and incremental dbt builds"
    )
    parser.add_argument(
        "--no-dashboards", action="store_true", help="skip the dashboard render benchmark"
    )
    parser.add_argument("--dashboard-runs", type=int, default=dashboards.RUNS)
    parser.add_argument(
        "--no-checkpoint",
        action="store_true",
        help="skip the expectations checkpoint benchmark (a day x 1,000 creators, cached)",
    )
    parser.add_argument(
        "--dbt-rate",
        type=float,
        default=None,
        help="events/s of the whole dbt history (default: 0.02 per creator, the ~50M-event size)",
    )
    args = parser.parse_args()
    show("ingestion: API (1 worker, 32 connections, 100-event batches) vs no-HTTP baseline",
         ingest.run(args.events))  # fmt: skip
    show("pipeline: local mode (Beam) vs plain Polars floor computing every output, one core",
         pipeline.run(args.pipeline_events))  # fmt: skip
    show("lag: probe event appended -> its minute queryable in serving.duckdb (demo load)",
         lag.run(args.lag_probes))  # fmt: skip
    show("live freshness: probe's 202 -> its minute in the Live now page's data (demo load)",
         live_freshness.run(args.live_probes))  # fmt: skip
    if args.dbt_build:
        show("dbt: full and incremental build over 30 days x 1,000 creators vs a lake scan",
             dbt_build.run(rate=args.dbt_rate))  # fmt: skip
    if not args.no_checkpoint:
        show("expectations checkpoint: 1 day x 1,000 creators vs reading the data (< 60 s)",
             checkpoint.run())  # fmt: skip
    if not args.no_dashboards:
        # After the dbt benchmark, whose finished history it then reads (dashboards.py).
        warehouse, figures = dashboards.run(args.dashboard_runs)
        show(f"dashboards: p95 render per page, warm and cold cache (target < 1 s)\n"
             f"  warehouse: {warehouse}", figures)  # fmt: skip


if __name__ == "__main__":
    main()
