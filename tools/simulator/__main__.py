"""`python -m tools.simulator`: send simulated social-video traffic to the ingestion API.

    python -m tools.simulator --url http://127.0.0.1:8000 --write-key KEY \\
        --rate 200 --creators 50 [--duration-s N] [--seed 1] [--catalog-dir DIR] [--lives-on-air N]

Runs until Ctrl-C (or for --duration-s), printing progress every ~5 s and a summary at the
end. With --catalog-dir the catalogue is written there as creators.json and content.json
at start (and again each new UTC day), ready for the catalogue file drop.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from marquee.argtypes import positive_float, positive_int
from tools.simulator.clock import now_ms
from tools.simulator.faults import FaultRates
from tools.simulator.live import LiveRun
from tools.simulator.sender import Sender
from tools.simulator.stream import TrafficStream

_DEFAULT_FAULTS = FaultRates()


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.simulator",
        description="Simulated creators, viewers and players posting events to Marquee.",
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="ingestion API base URL")
    parser.add_argument(
        "--write-key",
        default=os.environ.get("MARQUEE_SIM_WRITE_KEY"),
        help="write key sent as X-Write-Key (default: $MARQUEE_SIM_WRITE_KEY)",
    )
    parser.add_argument("--rate", type=positive_float, default=200.0, help="events per second")
    parser.add_argument("--creators", type=positive_int, default=50)
    parser.add_argument("--viewers", type=positive_int, default=None, help="viewer population")
    parser.add_argument("--duration-s", type=positive_float, default=None, help="stop after N s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--catalog-dir", type=Path, default=None, help="write the catalogue here")
    parser.add_argument("--batch-size", type=positive_int, default=100)
    parser.add_argument("--workers", type=positive_int, default=2, help="sender threads")
    parser.add_argument("--duplicate-rate", type=_rate, default=_DEFAULT_FAULTS.duplicate)
    parser.add_argument("--late-rate", type=_rate, default=_DEFAULT_FAULTS.late)
    parser.add_argument("--invalid-rate", type=_rate, default=_DEFAULT_FAULTS.invalid)
    parser.add_argument(
        "--warmup-s",
        type=float,
        default=None,
        help="simulate this much earlier traffic first, so views are already in progress "
        "(default: 600 s, less at high rates to keep start-up within a few seconds)",
    )
    parser.add_argument(
        "--lives-on-air",
        type=int,
        default=0,
        help="start with this many extra live streams on air (the most popular creators'), "
        "whatever the UTC hour; scheduled lives are mostly in the afternoon and evening",
    )
    parser.add_argument("--gzip", action="store_true", help="send gzip-compressed bodies")
    parser.add_argument("--progress-s", type=positive_float, default=5.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.write_key:
        print("a write key is needed: --write-key or MARQUEE_SIM_WRITE_KEY", file=sys.stderr)
        return 2
    if args.lives_on_air < 0:
        print("--lives-on-air cannot be negative", file=sys.stderr)
        return 2
    if args.batch_size > 500:
        print("--batch-size is at most 500 (the API's limit per request)", file=sys.stderr)
        return 2
    sim = TrafficStream(
        seed=args.seed,
        creators=args.creators,
        rate=args.rate,
        viewers=args.viewers,
        faults=FaultRates(
            duplicate=args.duplicate_rate, late=args.late_rate, invalid=args.invalid_rate
        ),
        warmup_s=args.warmup_s if args.warmup_s is not None else min(600.0, 150_000 / args.rate),
        on_air_at_ms=now_ms() if args.lives_on_air else None,
        on_air_lives=args.lives_on_air,
    )
    sender = Sender(args.url, args.write_key, compress=args.gzip)
    try:
        return LiveRun(
            sim,
            sender,
            batch_size=args.batch_size,
            workers=args.workers,
            duration_s=args.duration_s,
            progress_s=args.progress_s,
            catalog_dir=args.catalog_dir,
        ).run()
    finally:
        sender.close()


if __name__ == "__main__":
    sys.exit(main())
