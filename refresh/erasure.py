"""Run the pending privacy erasures: a step of every refresh cycle, and a command.

`python -m refresh.erasure` runs every pending erasure of the data directory once and
exits (`--watch` keeps looking every `--interval-s`); the refresh loop calls
`run_erasures` at the start of every cycle, before the dbt build, so that the warehouse is
rewritten by the one process that builds it. Either way the work is resumable: a job
killed at any point continues from its last finished step (`marquee.privacy.worker`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence

from marquee.layout import DataLayout
from marquee.privacy.worker import ErasureWorker
from marquee.settings import get_settings
from refresh.logs import configure_logging

log = logging.getLogger("refresh.erasure")


def run_erasures(layout: DataLayout, pause_s: float = 0.0) -> int:
    """Finish every pending erasure; returns how many completed. A failure is logged and
    left for the next cycle (the job resumes where it stopped)."""
    worker = ErasureWorker(layout, get_settings().lateness_horizon_s, pause_s=pause_s)
    try:
        return worker.run_pending()
    except Exception:
        log.exception("privacy erasure failed; it resumes at the next cycle")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m refresh.erasure",
        description="Run the pending privacy erasures of MARQUEE_DATA_DIR (docs/privacy.md).",
    )
    parser.add_argument("--watch", action="store_true", help="keep running every interval")
    parser.add_argument("--interval-s", type=float, default=5.0)
    parser.add_argument(
        "--pause-s",
        type=float,
        default=0.0,
        help="sleep between files and steps (a throttle; the crash test uses it)",
    )
    args = parser.parse_args(argv)
    configure_logging()
    layout = get_settings().layout
    worker = ErasureWorker(layout, get_settings().lateness_horizon_s, pause_s=args.pause_s)
    if not args.watch:
        completed = worker.run_pending()
        log.info("%d erasures completed", completed)
        return 0
    stop = threading.Event()
    while not stop.is_set():
        try:
            worker.run_pending()
        except Exception:
            log.exception("privacy erasure failed; retrying")
        stop.wait(args.interval_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
