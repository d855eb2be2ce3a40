"""`python -m pipelines local [--once] [--interval-s 2]`: the pipeline's command line."""

from __future__ import annotations

import argparse
import logging

from marquee.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="bounded Beam runs over newly sealed segments")
    local.add_argument("--once", action="store_true", help="process every sealed segment, exit")
    local.add_argument("--interval-s", type=float, default=2.0, help="seconds between runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    if args.command == "local":
        from pipelines.local_runner import run_local

        run_local(get_settings().layout, once=args.once, interval_s=args.interval_s)


if __name__ == "__main__":
    main()
