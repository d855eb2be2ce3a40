"""`python -m pipelines local [--once] [--interval-s 2] [--max-segments-per-run N]`.

Local mode reads the segment log named by MARQUEE_EVENT_LOG_URL (default: the data
directory's `log/`).
"""

from __future__ import annotations

import argparse
import logging

from marquee.eventlog.factory import local_directory
from marquee.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="bounded Beam runs over newly sealed segments")
    local.add_argument("--once", action="store_true", help="process every sealed segment, exit")
    local.add_argument("--interval-s", type=float, default=2.0, help="seconds between runs")
    local.add_argument(
        "--max-segments-per-run", type=int, default=500, help="bounds one run's memory"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    if args.command == "local":
        from pipelines.local_runner import run_local

        settings = get_settings()
        log_dir = local_directory(settings.event_log_url, settings.layout.log_dir)
        if log_dir is None:
            parser.error(
                "local mode reads a segment log, but MARQUEE_EVENT_LOG_URL names a broker: "
                "run the streaming pipeline for Kafka or Pub/Sub"
            )
        run_local(
            settings.layout,
            once=args.once,
            interval_s=args.interval_s,
            max_segments_per_run=args.max_segments_per_run,
            log_dir=log_dir,
        )


if __name__ == "__main__":
    main()
