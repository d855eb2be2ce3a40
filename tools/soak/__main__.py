"""`python -m tools.soak [--minutes 30] [--rate N] [--kill-every S] [--data-dir DIR]`."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from tools.demo import DEMO_RATE
from tools.soak import __doc__ as soak_doc
from tools.soak.run import SoakOptions, print_report, run_soak


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=soak_doc)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument(
        "--rate", type=float, default=DEMO_RATE, help="events per second (the demo's rate)"
    )
    parser.add_argument(
        "--kill-every", type=float, default=None, metavar="S",
        help="kill -9 one of API / pipeline / refresh loop / dbt worker about every S seconds",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", type=Path, default=None,
        help="a fresh directory (default: a new one under /tmp, kept for a look afterwards)",
    )  # fmt: skip
    parser.add_argument("--refresh-interval-s", type=int, default=60)
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="marquee-soak-", dir="/tmp"))
    data_dir.mkdir(parents=True, exist_ok=True)
    if any(data_dir.iterdir()):
        parser.error(f"{data_dir} is not empty: the soak needs a fresh data directory")
    print(f"[soak     ] data directory: {data_dir}", flush=True)
    options = SoakOptions(
        minutes=args.minutes,
        rate=args.rate,
        kill_every_s=args.kill_every,
        refresh_interval_s=args.refresh_interval_s,
        seed=args.seed,
    )
    # SIGTERM as Ctrl-C: run_soak's cleanup stops every part it started either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = run_soak(options, data_dir)
    print_report(report)
    return 0 if report.exactly_once and report.published_after_kills else 1


if __name__ == "__main__":
    sys.exit(main())
