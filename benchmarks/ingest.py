"""Ingestion: events/s through the real API against the same work without HTTP.

Baseline: one process splits, validates, enriches and appends the same request bodies to a
segment log with the same durability (group commit, fsync before "acknowledging"), 32
bodies in flight. API: the real API process (one worker) fed by a separate load-generator
process with 32 connections. Afterwards the log must hold every acknowledged event.

Besides events per wall-clock second, each half reports events per CPU second (the baseline
process; the API process with all its threads), which stays comparable on a busy machine.

`python -m benchmarks.ingest [--events N] [--runs R]` runs only this benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workload import request_bodies
from marquee.eventlog.group_commit import GroupCommitLog
from marquee.eventlog.segments import OPEN_SUFFIX, SEALED_SUFFIX
from marquee.intake.body import parse_batch
from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_decoded
from marquee.settings import Settings
from tests.support.api import start_api

CONCURRENCY = 32
WRITE_KEY = "wk_bench"


def count_logged(log_dir: Path) -> int:
    return sum(
        path.read_bytes().count(b"\n")
        for path in log_dir.iterdir()
        if path.suffix in (OPEN_SUFFIX, SEALED_SUFFIX)
    )


def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds of a process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _baseline(bodies: list[bytes], log_dir: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of the baseline."""
    enricher = Enricher(Pseudonymiser(b"bench"), future_horizon_s=300, lateness_horizon_s=86400 * 7)
    log = GroupCommitLog(log_dir, max_bytes=64 << 20, max_age_s=2.0)
    limits = Settings()  # the API's default limits
    queue = list(bodies)

    async def worker() -> None:
        while queue:
            body = queue.pop()
            batch = parse_batch(
                body, "application/json", limits.max_events_per_request, limits.max_event_bytes
            )
            result = ingest_decoded(
                batch.events,
                batch.raw_event,
                batch.sent_at,
                "bench",
                int(time.time() * 1000),
                None,
                enricher,
            )
            await log.append(result.log_bytes)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    await log.close()
    return seconds, cpu_seconds


def run(total_events: int) -> dict[str, float]:
    bodies = request_bodies(total_events)
    events = sum(len(json.loads(body)["events"]) for body in bodies)
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = Path(tmp) / "baseline"
        base_seconds, base_cpu_seconds = asyncio.run(_baseline(bodies, base_dir))
        assert count_logged(base_dir) == events
        data_dir = Path(tmp) / "api"
        api = start_api(data_dir, {"MARQUEE_WRITE_KEYS": f"bench:{WRITE_KEY}"})
        try:
            body_file = Path(tmp) / "bodies.ndjson"
            body_file.write_bytes(b"\n".join(bodies) + b"\n")
            api_cpu_started = process_cpu_s(api.process.pid)
            output = subprocess.run(
                [sys.executable, "-m", "benchmarks.loadgen", f"{api.url}/v1/events", WRITE_KEY,
                 str(body_file), str(CONCURRENCY)],
                capture_output=True, text=True, check=True, env=dict(os.environ),
            ).stdout  # fmt: skip
            api_cpu_seconds = process_cpu_s(api.process.pid) - api_cpu_started
        finally:
            api.stop()
        load = json.loads(output)
        logged = count_logged(data_dir / "log")
    if logged != load["accepted"]:
        raise SystemExit(f"LOST EVENTS: {load['accepted']} acknowledged, {logged} in the log")
    baseline_rate = events / base_seconds
    api_rate = load["accepted"] / load["seconds"]
    return {
        "events": events,
        "baseline_events_per_s": baseline_rate,
        "api_events_per_s": api_rate,
        "ratio_to_baseline": api_rate / baseline_rate,
        "baseline_events_per_cpu_s": events / base_cpu_seconds,
        "api_events_per_cpu_s": load["accepted"] / api_cpu_seconds,
        "p50_ms": load["p50_ms"],
        "p99_ms": load["p99_ms"],
        "acknowledged": load["accepted"],
        "in_log": logged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=1, help="runs, one after the other")
    args = parser.parse_args()
    for _ in range(args.runs):
        print(json.dumps({name: round(value, 3) for name, value in run(args.events).items()}))


if __name__ == "__main__":
    main()
