"""Write one shard of simulated history into the event log through the API's validation.

Each window of simulated traffic is one "request": its events go through
`marquee.intake.ingest.ingest_events` with an `Enricher` built exactly as the API builds it
(same horizons, the data directory's pseudonymisation key), so the log holds the same
records the API would have written and deliberately invalid events land in the quarantine
with their reason. Accepted records are appended with the log's own `SegmentWriter` and
sealed (fsynced, renamed to `.seg`) on size and at the end of the shard.

The one deliberate difference from the API is *when* the events are received: the API
stamps `received_at_ms` with the wall clock, the history stamps each window with its
simulated receipt time (the end of the window, never before an event's delivery). The
horizons are then checked as they would have been when the traffic happened, so month-old
history is accepted without widening the API's lateness horizon, and everything downstream
that reads receipt time (lag, deduplication's first-received copy, data-quality by hour)
sees realistic values. The API's settings are not touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from marquee.eventlog.segments import SegmentWriter
from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.intake.quarantine import encode_records
from marquee.layout import DataLayout
from tools.history.plan import WARMUP_S, HistoryPlan, Shard
from tools.simulator.engine import Simulator

WINDOW_MS = 10_000
"""Simulated traffic handed to the validation at a time (one 'request' per window)."""

_NEVER_BY_AGE_S = float("inf")


@dataclass(frozen=True)
class WriterConfig:
    """What a worker process needs to write like the API (picklable, no open files)."""

    data_dir: Path
    pseudonym_key: bytes
    app_id: str
    future_horizon_s: int
    lateness_horizon_s: int
    segment_max_bytes: int
    engine: str = "vectorised"
    """`vectorised` (`tools.history.vector`) or `scalar` (the `Simulator`, event by event)."""


ENGINES = ("vectorised", "scalar")


@dataclass(frozen=True)
class ShardResult:
    shard: int
    delivered: int
    """Events the simulator handed out (valid, duplicate and deliberately invalid)."""
    accepted: int
    quarantined: int
    seconds: float
    cpu_seconds: float
    """CPU time of the worker: events per CPU second is the figure that survives a busy
    machine, where wall-clock rates mostly measure the neighbours."""


def shard_windows(plan: HistoryPlan, shard: Shard) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """(receipt time, events delivered in the window) for each window of the shard.

    The same plan and shard always give the same events (the simulator is deterministic
    for its seed and stream).
    """
    sim = Simulator(
        seed=plan.seed,
        creators=plan.creators,
        rate=plan.rate,
        warmup_s=WARMUP_S,
        stream=shard.stream,
    )
    start = shard.start_ms
    while start < shard.end_ms:
        end = min(shard.end_ms, start + WINDOW_MS)
        yield end, sim.events_between(start, end)
        start = end


def write_shard(
    plan: HistoryPlan,
    shard: Shard,
    config: WriterConfig,
    report: Callable[[int], None] | None = None,
) -> ShardResult:
    """Generate, validate and append one shard; its segments are sealed when it returns.

    `report(n)` is called with the number of events generated since the last call, about
    once a second, for progress output.
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    layout = DataLayout(config.data_dir)
    enricher = Enricher(
        Pseudonymiser(config.pseudonym_key),
        future_horizon_s=config.future_horizon_s,
        lateness_horizon_s=config.lateness_horizon_s,
    )
    events_log = SegmentWriter(layout.log_dir, config.segment_max_bytes, _NEVER_BY_AGE_S)
    quarantine = SegmentWriter(layout.quarantine_dir, config.segment_max_bytes, _NEVER_BY_AGE_S)
    encode = msgspec.json.Encoder().encode
    delivered = accepted = quarantined = unreported = 0
    last_report = time.monotonic()
    try:
        for received_at_ms, events in shard_windows(plan, shard):
            if not events:
                continue
            result = ingest_events(
                [encode(event) for event in events],
                None,
                config.app_id,
                received_at_ms,
                None,
                enricher,
            )
            if result.log_bytes:
                events_log.write(bytes(result.log_bytes))
                if events_log.should_seal():
                    events_log.seal()
            if result.quarantine:
                quarantine.write(encode_records(result.quarantine))
            delivered += len(events)
            accepted += result.accepted
            quarantined += len(result.quarantine)
            unreported += len(events)
            if report is not None and time.monotonic() - last_report >= 1.0:
                report(unreported)
                unreported, last_report = 0, time.monotonic()
    finally:
        events_log.close()
        quarantine.close()
    if report is not None and unreported:
        report(unreported)
    return ShardResult(
        shard=shard.index,
        delivered=delivered,
        accepted=accepted,
        quarantined=quarantined,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - started_cpu,
    )
