"""Crash test: kill -9 the pipeline at random instants, restart, and compare with a clean run.

Over 100,000 simulated events split into many small segments, `python -m pipelines local
--once` is started, killed with SIGKILL after a random delay (landing anywhere: during
Beam's import, a Beam run, the Parquet writes, the ledger commit) and restarted, at least
20 times, then allowed to finish. The lake must then hold exactly the aggregates of an
uninterrupted run over a copy of the same segments: nothing lost, nothing counted twice.
If the pipeline consumes every segment before the 20th kill (a fast machine), a further
batch of new events is written to both logs and the killing goes on, so the test does not
depend on how fast the machine runs.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import msgspec
import pytest

from marquee.intake.enrich import Enricher, Pseudonymiser
from marquee.intake.ingest import ingest_events
from tests.support import REPO_ROOT
from tools.simulator.stream import TrafficStream

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

KILLS = 20
SEGMENT_EVENTS = 250
"""Small segments, one per run while being killed, so kills land in every phase of many
runs (about 490 for the first batch; 20 kills took 143 of them on a quiet machine)."""
MAX_BATCHES = 5
"""A pipeline that keeps finishing its batches before it is killed is broken, not fast."""


def write_simulated_segments(log_dir: Path, target_events: int, batch: int = 0) -> int:
    """About target_events simulated events, enriched by the real ingestion code; each
    batch has its own events (seed) and segment names."""
    now_ms = int(time.time() * 1000)
    simulator = TrafficStream(seed=11 + batch, creators=30, rate=1_000.0)
    start_ms = now_ms - 3_600_000
    events = simulator.events_between(start_ms, start_ms + int(target_events * 1.3))
    enricher = Enricher(Pseudonymiser(b"crash"), future_horizon_s=300, lateness_horizon_s=86400)
    raw = [msgspec.json.encode(event) for event in events]
    result = ingest_events(raw, None, "crash", now_ms, None, enricher)
    lines = bytes(result.log_bytes).splitlines(keepends=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    for index in range(0, len(lines), SEGMENT_EVENTS):
        name = f"{now_ms + index:013d}-crash{batch:03d}-{index:06d}.seg"
        (log_dir / name).write_bytes(b"".join(lines[index : index + SEGMENT_EVENTS]))
    return result.accepted


def pipeline_once(data_dir: Path, segments_per_run: int = 1) -> subprocess.Popen[bytes]:
    """Small runs while being killed, so kills land in every phase of many runs."""
    env = dict(os.environ, MARQUEE_DATA_DIR=str(data_dir))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines",
            "local",
            "--once",
            "--max-segments-per-run",
            str(segments_per_run),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def lake_totals(data_dir: Path) -> list[tuple[object, ...]]:
    glob = str(data_dir / "lake" / "minute_aggregates" / "*.parquet")
    return duckdb.execute(
        "select epoch_minute, content_id, platform, country, sum(attempts), sum(starts), "
        "sum(fatal_errors), sum(played_ms), sum(stalled_ms), sum(startup_ms_sum) "
        "from read_parquet(?) group by all order by all",
        [glob],
    ).fetchall()


def test_kill_9_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    accepted = write_simulated_segments(crashed / "log", 100_000)
    assert accepted >= 100_000
    shutil.copytree(crashed / "log", clean / "log")

    rng = random.Random(20)
    kills, batches = 0, 1
    while kills < KILLS:
        process = pipeline_once(crashed)
        try:
            returncode = process.wait(timeout=rng.uniform(1.0, 9.0))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            continue
        # It consumed everything before the kill: give both logs a new batch to interrupt.
        assert returncode == 0, "the pipeline failed on its own"
        assert batches < MAX_BATCHES, f"{batches} batches consumed with only {kills} kills"
        new = tmp_path / f"batch-{batches}"
        write_simulated_segments(new, 20_000, batch=batches)
        for segment in new.iterdir():
            shutil.copy(segment, crashed / "log")
            shutil.copy(segment, clean / "log")
        batches += 1
    finisher = pipeline_once(crashed, segments_per_run=100)
    assert finisher.wait(timeout=600) == 0

    reference = pipeline_once(clean, segments_per_run=100)
    assert reference.wait(timeout=600) == 0

    assert lake_totals(crashed) == lake_totals(clean)
    assert lake_totals(clean), "the reference run produced no aggregates"
