"""Pipeline: events/s from sealed segments to committed outputs, against a Polars floor.

Floor: plain Polars reading the same segments and computing the same deduplication and
per-minute group-by in one process, with no Beam, no ledger and no output files. Beam is
imported before timing (its import costs about 5 s once per process).
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path

import polars as pl

from benchmarks.workload import request_bodies
from ingestion_api.enrich import Enricher, Pseudonymiser
from ingestion_api.ingest import ingest_events
from marquee.layout import DataLayout
from pipelines import aggregates
from pipelines.local_runner import LocalRunner
from pipelines.records import LOG_RECORD_SCHEMA


def write_segments(layout: DataLayout, total_events: int, per_segment: int = 20_000) -> int:
    enricher = Enricher(Pseudonymiser(b"bench"), future_horizon_s=300, lateness_horizon_s=86400 * 7)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    lines = bytearray()
    count = 0
    for body in request_bodies(total_events):
        parsed = json.loads(body)
        raw = [json.dumps(event).encode() for event in parsed["events"]]
        result = ingest_events(raw, None, "bench", int(time.time() * 1000), None, enricher)
        lines += result.log_bytes
        count += result.accepted
    records = bytes(lines).splitlines(keepends=True)
    for index in range(0, len(records), per_segment):
        name = f"{1_700_000_000_000 + index:013d}-bench000-{index:06d}.seg"
        (layout.log_dir / name).write_bytes(b"".join(records[index : index + per_segment]))
    return count


def polars_floor(layout: DataLayout) -> float:
    started = time.perf_counter()
    frames = [
        pl.read_ndjson(io.BytesIO(path.read_bytes()), schema=LOG_RECORD_SCHEMA)
        for path in sorted(layout.log_dir.glob("*.seg"))
    ]
    aggregates.minute_aggregates(aggregates.deduplicate(pl.concat(frames)))
    return time.perf_counter() - started


def run(total_events: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp))
        events = write_segments(layout, total_events)
        floor_seconds = polars_floor(layout)
        runner = LocalRunner(layout, max_segments_per_run=10_000)
        started = time.perf_counter()
        runner.drain()
        beam_seconds = time.perf_counter() - started
    floor_rate = events / floor_seconds
    beam_rate = events / beam_seconds
    return {
        "events": events,
        "polars_floor_events_per_s": floor_rate,
        "local_mode_events_per_s": beam_rate,
        "ratio_to_floor": beam_rate / floor_rate,
    }
