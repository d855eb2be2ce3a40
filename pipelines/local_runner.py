"""Local mode: bounded Beam runs over newly sealed log segments, committed exactly once.

Beam's local streaming runner (Prism) downloads a binary at run time and the Python
DirectRunner cannot run unbounded sources, so locally the pipeline runs as a loop: every
few seconds a bounded Beam pipeline (FnApiRunner, in process) reads the segments sealed
since the last commit, and its outputs are committed with the consumed-segment ledger
(protocol in `pipelines.ledger`). Event time, not processing time, places every event in
its minute, so late events simply merge into their minute's totals.

Run it:
    uv run python -m pipelines local            # loop until Ctrl-C
    uv run python -m pipelines local --once     # every sealed segment, commit, exit
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
import polars as pl
import pyarrow as pa
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from marquee.eventlog.segments import recover_open_segments, sealed_segments
from marquee.lake import (
    DEAD_LETTERS,
    DEAD_LETTERS_SCHEMA,
    MINUTE_AGGREGATES,
    MINUTE_AGGREGATES_SCHEMA,
    ensure_lake,
    write_table_atomically,
)
from marquee.layout import DataLayout
from pipelines.ledger import Ledger, PlannedRun, RunStats
from pipelines.transforms import (
    DEAD_LETTERS as DEAD_LETTERS_TAG,
)
from pipelines.transforms import (
    NAMESPACE,
    AggregatePerMinute,
    Deduplicate,
    ParseEvents,
)

log = logging.getLogger("pipelines")

DEDUP_WINDOW_MS = 24 * 3600 * 1000


def run_file_name(run_id: int) -> str:
    return f"run-{run_id:012d}.parquet"


@dataclass(frozen=True)
class RunOutputs:
    """Where one run lands its outputs; names derive from the run id, so a redo overwrites."""

    minute_file: Path
    dead_letters_file: Path
    seen_ids_file: Path
    run_id: int
    processed_at_ms: int


def write_minutes(frame: pl.DataFrame, outputs: RunOutputs) -> int:
    table = frame.with_columns(
        pl.lit(outputs.run_id, dtype=pl.Int64).alias("run_id"),
        pl.lit(outputs.processed_at_ms, dtype=pl.Int64).alias("processed_at_ms"),
    ).select(MINUTE_AGGREGATES_SCHEMA.names)
    write_table_atomically(table.to_arrow().cast(MINUTE_AGGREGATES_SCHEMA), outputs.minute_file)
    return table.height


def write_seen_ids(frames: list[pl.DataFrame], outputs: RunOutputs) -> None:
    schema = {"event_id": pl.Utf8, "received_at_ms": pl.Int64}
    parts = [frame.select(schema.keys()) for frame in frames]
    ids = pl.concat(parts) if parts else pl.DataFrame(schema=schema)
    write_table_atomically(ids.to_arrow(), outputs.seen_ids_file)


def write_dead_letters(frames: list[pl.DataFrame], outputs: RunOutputs) -> None:
    if not frames:
        return
    table = (
        pl.concat(frames)
        .with_columns(pl.lit(outputs.run_id, dtype=pl.Int64).alias("run_id"))
        .select(DEAD_LETTERS_SCHEMA.names)
    )
    write_table_atomically(
        pa.Table.from_pandas(table.to_pandas(), schema=DEAD_LETTERS_SCHEMA, preserve_index=False),
        outputs.dead_letters_file,
    )


def build_pipeline(
    pipeline: beam.Pipeline, segment_paths: list[str], state_db: Path, outputs: RunOutputs
) -> None:
    """The bounded graph of one local run: read, deduplicate, aggregate, land outputs."""
    parsed = (
        pipeline | "SegmentPaths" >> beam.Create(segment_paths) | "ParseEvents" >> ParseEvents()
    )
    unique = parsed.events | "Deduplicate" >> Deduplicate(state_db)
    (
        unique
        | "AggregatePerMinute" >> AggregatePerMinute()
        | "WriteMinutes" >> beam.Map(write_minutes, outputs)
    )
    (
        unique
        | "CollectSeenIds" >> beam.combiners.ToList()
        | "WriteSeenIds" >> beam.Map(write_seen_ids, outputs)
    )
    (
        parsed[DEAD_LETTERS_TAG]
        | "CollectDeadLetters" >> beam.combiners.ToList()
        | "WriteDeadLetters" >> beam.Map(write_dead_letters, outputs)
    )


def _counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE).with_name(name))
    return int(sum(counter.committed or 0 for counter in found["counters"]))


class LocalRunner:
    """Plans, runs and commits one run at a time; `run_once` is safe to repeat after a crash."""

    def __init__(self, layout: DataLayout, max_segments_per_run: int = 500) -> None:
        self.layout = layout.ensure()
        ensure_lake(self.layout)
        self.pending_dir = self.layout.state_db.parent / "pending"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(self.layout.state_db)
        self.max_segments_per_run = max_segments_per_run
        self.runs_done = 0

    def run_once(self) -> RunStats | None:
        """Process the next batch of sealed segments; None when there was nothing to do."""
        recover_open_segments(self.layout.log_dir)
        sealed = [path.name for path in sealed_segments(self.layout.log_dir)]
        run = self.ledger.plan(sealed, self.max_segments_per_run)
        if run is None:
            return None
        started = time.monotonic()
        outputs = RunOutputs(
            minute_file=self.layout.lake_table_dir(MINUTE_AGGREGATES) / run_file_name(run.run_id),
            dead_letters_file=self.layout.lake_table_dir(DEAD_LETTERS) / run_file_name(run.run_id),
            seen_ids_file=self.pending_dir / f"run-{run.run_id:012d}.ids.parquet",
            run_id=run.run_id,
            processed_at_ms=int(time.time() * 1000),
        )
        stats = self._execute(run, outputs)
        self.ledger.commit(run, outputs.seen_ids_file, stats)
        outputs.seen_ids_file.unlink(missing_ok=True)
        self._write_status(run)
        self.runs_done += 1
        if self.runs_done % 100 == 0:
            self.ledger.forget_seen_before(int(time.time() * 1000) - DEDUP_WINDOW_MS)
        log.info(
            "run %d%s: %d segments, %d events, %d duplicates, %d dead letters, "
            "%d minute rows in %.2f s",
            run.run_id,
            " (redo after a crash)" if run.redo else "",
            len(run.segments),
            stats.events_read,
            stats.duplicates,
            stats.dead_letters,
            stats.output_rows,
            time.monotonic() - started,
        )
        return stats

    def _write_status(self, run: PlannedRun) -> None:
        status = {
            **self.ledger.totals(),
            "last_run_id": run.run_id,
            "last_commit_at_ms": int(time.time() * 1000),
        }
        tmp = self.layout.pipeline_status.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, self.layout.pipeline_status)

    def _execute(self, run: PlannedRun, outputs: RunOutputs) -> RunStats:
        paths = [str(self.layout.log_dir / name) for name in run.segments]
        pipeline = beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions([]))
        build_pipeline(pipeline, paths, self.layout.state_db, outputs)
        result = pipeline.run()
        result.wait_until_finish()
        minute_rows = pl.read_parquet(outputs.minute_file).height
        return RunStats(
            events_read=_counter(result, "events_read"),
            duplicates=_counter(result, "duplicates"),
            dead_letters=_counter(result, "dead_letters"),
            output_rows=minute_rows,
        )

    def drain(self) -> int:
        """Run until no sealed segment is left unconsumed; return the number of runs."""
        runs = 0
        while self.run_once() is not None:
            runs += 1
        return runs


def run_local(layout: DataLayout, once: bool, interval_s: float) -> None:
    runner = LocalRunner(layout)
    if once:
        runs = runner.drain()
        log.info("done: %d runs committed", runs)
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    log.info("local mode: watching %s every %.1f s", layout.log_dir, interval_s)
    while not stop.is_set():
        started = time.monotonic()
        while not stop.is_set() and runner.run_once() is not None:
            pass
        stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    log.info("stopped after %d runs", runner.runs_done)
