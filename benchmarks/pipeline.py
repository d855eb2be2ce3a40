"""Pipeline: events/s from sealed segments to committed outputs, one core, against a floor.

Floor: plain Polars reading the same segments and computing every output local mode
computes (validation, deduplication, the per-minute and engagement tables, view partials,
viewer facts, the run's event ids) with the same pure functions (`ALL_PARTIALS`), in one
process, with no Beam, no ledger and no files. Local mode: `LocalRunner.drain()` over the
same segments in one run (Beam FnApiRunner, the seen-id lookup, Parquet writes, the ledger
commit). Beam is imported before timing (its import costs about 5 s once per process).

Both are measured in a child process pinned to one CPU with Polars on one thread (the
issue's figure is per core), so wall time is CPU time there.

Two workloads:
- `uniform`: the synthetic player events of `benchmarks.workload` (short records, five
  events per session, every event on a random platform and country, with that platform's
  app_version, os and device: almost no two events share a minute row). Measured at each
  size so the fixed cost of a run shows (it weighs far more at 200,000 events than at
  1,000,000); `fixed_run_s` is one run over a single 100-event segment.
- `simulator`: one day of the history generator's traffic for 600 creators (about 1.06
  million events of every kind, longer records with device fields, retried copies):
  what the demo's traffic looks like to the pipeline.

    uv run python -m benchmarks.pipeline [--sizes 200000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import show
from benchmarks.workload import request_bodies
from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from marquee.layout import DataLayout
from pipelines import aggregates, records
from pipelines.local_runner import SEEN_IDS_SCHEMA, LocalRunner
from pipelines.transforms import ALL_PARTIALS, PartialsOf
from pipelines.validation import validate

SIZES = (200_000, 1_000_000)
PER_SEGMENT = 20_000
SIMULATOR_CREATORS = 600
"""One day at the history's default rate (0.02 events/s per creator): ~1.04M events."""
SIMULATOR_END = "2026-11-01"
"""A fixed day, so the generated traffic is the same in every run."""


def write_segments(layout: DataLayout, total_events: int, per_segment: int = PER_SEGMENT) -> None:
    """The uniform workload's events through the API's ingest code into `per_segment`-line
    segments (the events counted are those the floor reads back)."""
    enricher = Enricher(Pseudonymiser(b"bench"), future_horizon_s=300, lateness_horizon_s=86400 * 7)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    lines = bytearray()
    for body in request_bodies(total_events):
        parsed = json.loads(body)
        raw = [json.dumps(event).encode() for event in parsed["events"]]
        result = ingest_events(raw, None, "bench", int(time.time() * 1000), None, enricher)
        lines += result.log_bytes
    log_records = bytes(lines).splitlines(keepends=True)
    for index in range(0, len(log_records), per_segment):
        name = f"{1_700_000_000_000 + index:013d}-bench000-{index:06d}.seg"
        (layout.log_dir / name).write_bytes(b"".join(log_records[index : index + per_segment]))


def write_simulator_history(data_dir: Path) -> None:
    """One day of simulated traffic into `data_dir`'s segment log (both cores, untimed)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.history",
            "--days=1",
            f"--creators={SIMULATOR_CREATORS}",
            f"--end={SIMULATOR_END}",
            f"--data-dir={data_dir}",
            "--no-run-pipeline",
            "--progress-s=3600",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def polars_floor(log_dir: Path) -> tuple[int, float, float]:
    """(events read, wall s, CPU s) for plain Polars to compute every output of local mode."""
    started, cpu_started = time.perf_counter(), time.process_time()
    whole = records.read_segments_at_once(sorted(log_dir.glob("*.seg")))
    assert whole is not None, "the benchmark's segments hold only parseable records"
    valid = validate(records.SegmentBatch("", whole, [])).valid
    unique = aggregates.deduplicate(valid)
    PartialsOf(ALL_PARTIALS)(unique)
    unique.select(SEEN_IDS_SCHEMA.keys())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return whole.height, elapsed, cpu


def local_mode(root: Path) -> tuple[float, float]:
    """(wall, CPU) seconds for local mode to commit every sealed segment (one run here)."""
    runner = LocalRunner(DataLayout(root), max_segments_per_run=10_000)
    started, cpu_started = time.perf_counter(), time.process_time()
    runner.drain()
    return time.perf_counter() - started, time.process_time() - cpu_started


def figures_of(label: str, root: Path) -> dict[str, float]:
    events, floor_seconds, floor_cpu = polars_floor(DataLayout(root).log_dir)
    beam_seconds, beam_cpu = local_mode(root)
    floor_rate = events / floor_seconds
    beam_rate = events / beam_seconds
    return {
        f"{label} events": events,
        f"{label} floor events/s": floor_rate,
        f"{label} local mode events/s": beam_rate,
        f"{label} ratio to floor": beam_rate / floor_rate,
        f"{label} floor CPU s": floor_cpu,
        f"{label} local mode CPU s": beam_cpu,
    }


def uniform_figures(total_events: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        write_segments(DataLayout(Path(tmp)), total_events)
        return figures_of(f"uniform {total_events // 1000}k", Path(tmp))


def fixed_run_seconds() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        write_segments(DataLayout(Path(tmp)), 100)
        return local_mode(Path(tmp))[0]


def measure_on_this_core(sizes: Sequence[int], simulator_dir: Path | None) -> dict[str, float]:
    figures: dict[str, float] = {}
    for size in sizes:
        figures.update(uniform_figures(size))
    if simulator_dir is not None:
        figures.update(figures_of("simulator", simulator_dir))
    figures["fixed_run_s"] = fixed_run_seconds()
    return figures


def one_core() -> int:
    """The CPU the measurement is pinned to: the last one this process may use."""
    return max(os.sched_getaffinity(0))


def run(sizes: Sequence[int] = SIZES, simulator: bool = True) -> dict[str, float]:
    """Every figure, measured in a child process pinned to one CPU."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "benchmarks.pipeline", "--child", "--sizes"]
        command += [str(size) for size in sizes]
        if simulator:
            write_simulator_history(Path(tmp))
            command += ["--simulator-dir", tmp]
        cpu = one_core()
        child = subprocess.run(
            command,
            check=True,
            stdout=subprocess.PIPE,
            env={**os.environ, "POLARS_MAX_THREADS": "1"},
            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
        )
    figures: dict[str, float] = json.loads(child.stdout.decode().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--no-simulator", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--simulator-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_on_this_core(args.sizes, args.simulator_dir)))
        return
    show("pipeline, one core", run(args.sizes, simulator=not args.no_simulator))


if __name__ == "__main__":
    main()
