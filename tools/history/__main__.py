"""`python -m tools.history --days N --creators M`: simulated history, then the pipeline.

    python -m tools.history --days 30 --creators 1000 [--seed 1] [--data-dir D]
        [--rate EVENTS_PER_S] [--end YYYY-MM-DD] [--workers 2] [--no-run-pipeline]

Writes the N whole UTC days before --end (default: today) into the event log of the data
directory (default $MARQUEE_DATA_DIR), the catalogue into its catalog/ drop, and runs the
local pipeline over it. Progress every few seconds, a summary at the end. Rerunning skips
the days already written (see `tools.history.manifest`). The traffic is the simulator's
vectorised engine (`tools.simulator.vector`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from marquee.argtypes import positive_float, positive_int
from marquee.settings import Settings
from tools.history.build import BuildOptions, HistoryResult, build_history
from tools.history.manifest import HistoryMismatch
from tools.history.plan import EVENTS_PER_CREATOR_PER_S, HistoryPlan
from tools.history.progress import format_duration


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.history",
        description="Simulated history written into the event log, then the pipeline over it.",
    )
    parser.add_argument("--days", type=positive_int, required=True)
    parser.add_argument("--creators", type=positive_int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: MARQUEE_DATA_DIR")
    parser.add_argument(
        "--rate",
        type=positive_float,
        default=None,
        help=f"events per simulated second (default: {EVENTS_PER_CREATOR_PER_S} x creators)",
    )
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        help="UTC day the history ends at (exclusive; default: today)",
    )
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--run-pipeline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the local pipeline over the log afterwards",
    )
    parser.add_argument("--segments-per-run", type=positive_int, default=16)
    parser.add_argument("--progress-s", type=positive_float, default=5.0)
    return parser


def print_summary(result: HistoryResult) -> None:
    plan, generation, pipeline = result.plan, result.generation, result.pipeline
    print("\nhistory summary")
    print(
        f"  range              {_day(plan.start_ms)} .. {_day(plan.end_ms)} (exclusive), "
        f"{plan.creators:,} creators, {plan.rate:g} events/s, seed {plan.seed}"
    )
    print(f"  shards             {result.shards_written} written, {result.shards_skipped} skipped")
    print(f"  catalogue          {result.creators:,} creators, {result.content:,} titles")
    print(
        f"  events generated   {generation.delivered:,} in {format_duration(generation.seconds)}"
        f" ({generation.events_per_s:,.0f} events/s; "
        f"{generation.events_per_cpu_s:,.0f} events per CPU second of a worker)"
    )
    print(f"  accepted / quarantined  {generation.accepted:,} / {generation.quarantined:,}")
    if pipeline is not None:
        print(
            f"  pipeline           {pipeline.runs} runs, {pipeline.events_read:,} events in "
            f"{format_duration(pipeline.seconds)} ({pipeline.events_per_s:,.0f} events/s; "
            f"{pipeline.events_per_cpu_s:,.0f} per CPU second), "
            f"{pipeline.duplicates:,} duplicates, {pipeline.dead_letters:,} dead letters"
        )


def _day(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.ERROR)  # optional cloud IO it lacks
    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    try:
        plan = HistoryPlan.days_before(
            args.end or datetime.now(UTC).date(), args.days, args.seed, args.creators, args.rate
        )
        result = build_history(
            plan,
            settings,
            BuildOptions(
                workers=args.workers,
                run_pipeline=args.run_pipeline,
                segments_per_run=args.segments_per_run,
                progress_every_s=args.progress_s,
            ),
        )
    except (ValueError, HistoryMismatch) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_summary(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
