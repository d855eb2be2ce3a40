"""Pipeline: events/s from sealed segments to committed outputs, against a Polars floor.

Floor: plain Polars reading the same segments and computing every output local mode
computes (validation, deduplication, the per-minute and engagement tables, view partials,
viewer facts, the run's event ids) with the same pure functions (`ALL_PARTIALS`), in one
process, with no Beam, no ledger and no files. Local mode: `LocalRunner.drain()` over the
same segments in one run (Beam FnApiRunner, the seen-id lookup, Parquet writes, the ledger
commit). Beam is imported before timing (its import costs about 5 s once per process).

Each size is measured separately so the fixed cost of a run shows: at 200,000 events it
weighs far more than at 1,000,000. `fixed_run_s` is one run over a single 100-event segment.
CPU seconds (the process's, all threads) are shown too: on a shared machine they move far
less than wall time, so they are what to compare between versions there.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from benchmarks.workload import request_bodies
from ingestion_api.enrich import Enricher, Pseudonymiser
from ingestion_api.ingest import ingest_events
from marquee.layout import DataLayout
from pipelines import aggregates, records
from pipelines.local_runner import SEEN_IDS_SCHEMA, LocalRunner
from pipelines.transforms import ALL_PARTIALS, PartialsOf, validate_segment

SIZES = (200_000, 1_000_000)
PER_SEGMENT = 20_000


def write_segments(layout: DataLayout, total_events: int, per_segment: int = PER_SEGMENT) -> int:
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
    log_records = bytes(lines).splitlines(keepends=True)
    for index in range(0, len(log_records), per_segment):
        name = f"{1_700_000_000_000 + index:013d}-bench000-{index:06d}.seg"
        (layout.log_dir / name).write_bytes(b"".join(log_records[index : index + per_segment]))
    return count


def polars_floor(layout: DataLayout) -> tuple[float, float]:
    """(wall, CPU) seconds for plain Polars to compute every output of local mode."""
    started, cpu_started = time.perf_counter(), time.process_time()
    valid = [
        validate_segment(records.read_segment(path))[0]
        for path in sorted(layout.log_dir.glob("*.seg"))
    ]
    unique = aggregates.deduplicate(pl.concat(valid))
    PartialsOf(ALL_PARTIALS)(unique)
    unique.select(SEEN_IDS_SCHEMA.keys())
    return time.perf_counter() - started, time.process_time() - cpu_started


def local_mode(layout: DataLayout) -> tuple[float, float]:
    """(wall, CPU) seconds for local mode to commit every sealed segment (one run here)."""
    runner = LocalRunner(layout, max_segments_per_run=10_000)
    started, cpu_started = time.perf_counter(), time.process_time()
    runner.drain()
    return time.perf_counter() - started, time.process_time() - cpu_started


def measure(total_events: int) -> dict[str, float]:
    label = f"{total_events // 1000}k"
    with tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp))
        events = write_segments(layout, total_events)
        floor_seconds, floor_cpu = polars_floor(layout)
        beam_seconds, beam_cpu = local_mode(layout)
    floor_rate = events / floor_seconds
    beam_rate = events / beam_seconds
    return {
        f"{label} floor events/s": floor_rate,
        f"{label} local mode events/s": beam_rate,
        f"{label} ratio to floor": beam_rate / floor_rate,
        f"{label} floor CPU s": floor_cpu,
        f"{label} local mode CPU s": beam_cpu,
    }


def fixed_run_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        layout = DataLayout(Path(tmp))
        write_segments(layout, 100)
        return local_mode(layout)[0]


def run(sizes: Sequence[int] = SIZES) -> dict[str, float]:
    figures: dict[str, float] = {}
    for size in sizes:
        figures.update(measure(size))
    figures["fixed_run_s"] = fixed_run_seconds()
    return figures
