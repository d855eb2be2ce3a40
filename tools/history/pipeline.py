"""Run the local pipeline over everything the history wrote, with progress output.

The same `LocalRunner` as `python -m pipelines local --once` (so the same exactly-once
ledger and lake files), driven run by run instead of `drain()` so that long histories
print how far they are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from marquee.layout import DataLayout
from tools.history.progress import Progress


@dataclass(frozen=True)
class PipelineSummary:
    runs: int
    events_read: int
    duplicates: int
    dead_letters: int
    seconds: float
    cpu_seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events_read / self.seconds if self.seconds > 0 else 0.0

    @property
    def events_per_cpu_s(self) -> float:
        return self.events_read / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def run_pipeline(
    layout: DataLayout,
    expected_events: int,
    segments_per_run: int,
    progress_every_s: float = 5.0,
) -> PipelineSummary:
    """Process every sealed, unconsumed segment; `expected_events` only sizes the ETA."""
    from pipelines.local_runner import LocalRunner  # imports Beam: seconds, so only here

    started, started_cpu = time.perf_counter(), time.process_time()
    runner = LocalRunner(layout, max_segments_per_run=segments_per_run)
    progress = Progress("pipeline", expected_events, "events", every_s=progress_every_s)
    runs = events = duplicates = dead_letters = 0
    while (stats := runner.run_once()) is not None:
        runs += 1
        events += stats.events_read
        duplicates += stats.duplicates
        dead_letters += stats.dead_letters
        progress.advance(stats.events_read)
    progress.finish()
    return PipelineSummary(
        runs,
        events,
        duplicates,
        dead_letters,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - started_cpu,
    )
