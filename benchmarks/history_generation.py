"""History generation: events per CPU second of the engine against the reference model.

    uv run python -m benchmarks.history_generation [--creators 1000] [--hours 2] [--rounds 2]

The engine (`tools.history.shard`: plan with the vectorised engine, validate with the API's
decoder, enrich, append to sealed segments) writes a stretch of history (the given hours of
the given number of creators at the default 0.02 events/s per creator) into a fresh data
directory; the baseline is the event-by-event reference model (`tools.simulator.Simulator`,
the tests' oracle) only generating and encoding the same stretch, no validation and no
writing. They run alternately in one process, `rounds` times each, with polars on one
thread; the best round of each is reported in events per CPU second of the process (the
figure that survives a busy machine) and as the ratio engine / reference. The first engine
round also pays for building the 300,000-viewer audience and the catalogue arrays, which a
day shard pays once; later rounds reuse them, as a worker writing several shards does.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import msgspec

from tools.history.plan import WARMUP_S, HistoryPlan, Shard, default_rate
from tools.history.worker import WriterConfig
from tools.simulator.clock import DAY_MS, HOUR_MS, MINUTE_MS
from tools.simulator.engine import Simulator

START_MS = 1_767_916_800_000 + 12 * HOUR_MS
"""2026-01-09 12:00 UTC: fixed, and mid-day (live streams on air)."""


def engine_round(creators: int, hours: float) -> tuple[int, float]:
    """(events delivered, CPU s) of writing the stretch with `tools.history.shard`."""
    from tools.history.shard import write_shard

    end = START_MS + int(hours * HOUR_MS)
    plan = HistoryPlan(1, creators, default_rate(creators), START_MS, end, shard_ms=DAY_MS)
    with tempfile.TemporaryDirectory() as data_dir:
        config = WriterConfig(Path(data_dir), b"bench-key", "history", 300, 7 * 24 * 3600, 16 << 20)
        result = write_shard(plan, Shard(0, START_MS, end), config)
    return result.delivered, result.cpu_seconds


def reference_round(creators: int, hours: float) -> tuple[int, float]:
    """(events, CPU s) of the reference model generating and encoding the same stretch."""
    started = time.process_time()
    sim = Simulator(1, creators, default_rate(creators), warmup_s=WARMUP_S)
    encode = msgspec.json.Encoder().encode
    events = 0
    for start in range(START_MS, START_MS + int(hours * HOUR_MS), MINUTE_MS):
        events += len([encode(event) for event in sim.events_between(start, start + MINUTE_MS)])
    return events, time.process_time() - started


def run(creators: int = 1000, hours: float = 2.0, rounds: int = 2) -> dict[str, float]:
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, measure in (("engine", engine_round), ("reference", reference_round)):
            events, cpu_seconds = measure(creators, hours)
            rate = events / cpu_seconds
            print(
                f"  {name:10} {events:,} events, {cpu_seconds:.2f} CPU s: "
                f"{rate:,.0f} events per CPU s",
                flush=True,
            )
            best[name] = max(best.get(name, 0.0), rate)
    return {
        "engine_events_per_cpu_s": best["engine"],
        "reference_events_per_cpu_s": best["reference"],
        "engine_over_reference": best["engine"] / best["reference"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.history_generation")
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(f"history generation, {args.hours:g} h x {args.creators:,} creators")
    for name, value in run(args.creators, args.hours, args.rounds).items():
        print(f"  {name:28} {value:,.2f}")


if __name__ == "__main__":
    main()
