"""Local mode: bounded Beam runs over newly sealed log segments, committed exactly once.

Beam's local streaming runner (Prism) downloads a binary at run time and the Python
DirectRunner cannot run unbounded sources, so locally the pipeline runs as a loop: every
few seconds a bounded Beam pipeline (FnApiRunner, in process) reads the segments sealed
since the last commit, and its outputs are committed with the consumed-segment ledger
(protocol in `pipelines.ledger`). Event time, not processing time, places every event in
its minute, so late events simply merge into their minute's totals.

Each run lands one file per output under `lake/<table>/run-<run id>.parquet` through the
lake sink the streaming job's panes land through (`pipelines.sinks.lake`; tables and
grains in `marquee.lake`): the per-minute sum tables, the view partials and the viewer
fact sets, each computed once from the run's unique events (the run's segments are one
Beam element, so the graph fuses into one stage and no frame crosses a shuffle), plus dead
letters per segment. Readers merge the files of all runs by the same rules, so a view or a
minute that spans runs comes out whole.

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
import pyarrow.parquet as pq
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, PipelineOptionsT
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from marquee.eventlog.segments import recover_open_segments, sealed_segments
from marquee.lake import (
    DEAD_LETTERS,
    DEAD_LETTERS_SCHEMA,
    LAKE_TABLES,
    MINUTE_AGGREGATES,
    ensure_lake,
    write_table_atomically,
)
from marquee.layout import DataLayout
from marquee.settings import get_settings
from pipelines.ledger import Ledger, PlannedRun, RunStats
from pipelines.sinks import BatchSink
from pipelines.sinks.lake import LakeSink
from pipelines.transforms import (
    CONTENT_TYPES_DECIDED,
    UNIQUE_EVENTS,
    Aggregate,
    DeduplicateRun,
    ParseEvents,
)
from pipelines.validation import NAMESPACE

log = logging.getLogger("pipelines")

OUTPUT_TABLES = [table for table in LAKE_TABLES if table != DEAD_LETTERS]
"""The mergeable outputs each run lands (dead letters are written on their own)."""


@dataclass(frozen=True)
class RunOutputs:
    """Where one run lands its outputs; names derive from the run id, so a redo overwrites."""

    lake_dir: Path
    seen_ids_file: Path
    run_id: int
    processed_at_ms: int
    content_types_file: Path | None = None
    """Where the content types the run decided (`pipelines.content_types`) land for the
    commit; local mode's runs only."""

    @property
    def sink(self) -> LakeSink:
        """The sink every output of the run lands through (`pipelines.sinks`)."""
        return LakeSink(str(self.lake_dir))

    @property
    def minute_file(self) -> Path:
        return self.sink.table_file(MINUTE_AGGREGATES, self.run_id)

    def dead_letters_file(self, segment: str) -> Path:
        """`lake/dead_letters/run-<run id>-<segment>.parquet`."""
        return self.lake_dir / DEAD_LETTERS / f"run-{self.run_id:012d}-{segment}.parquet"


SEEN_IDS_SCHEMA = {"event_id": pl.Utf8, "received_at_ms": pl.Int64}
"""The run's event ids, landed in a pending file that the ledger commit reads."""


def write_seen_ids(frame: pl.DataFrame, outputs: RunOutputs) -> int:
    """Land the run's event ids (for the ledger commit); return their count."""
    # Read once by the commit and deleted: plain pages (no dictionary, compression or
    # statistics) write in a third of the time.
    write_table_atomically(
        frame.select(SEEN_IDS_SCHEMA.keys()).to_arrow(),
        outputs.seen_ids_file,
        use_dictionary=False,
        compression="none",
        write_statistics=False,
    )
    return frame.height


def write_content_types(frame: pl.DataFrame, outputs: RunOutputs) -> int:
    """Land the content types the run decided (for the ledger commit); return their count."""
    assert outputs.content_types_file is not None, "only local mode's runs decide types"
    write_table_atomically(frame.to_arrow(), outputs.content_types_file)
    return frame.height


def write_output(partial: tuple[str, pl.DataFrame], sink: BatchSink, outputs: RunOutputs) -> int:
    """Land one output of the run through the sink; return its rows."""
    table, frame = partial
    written = sink.write_batch(outputs.run_id, outputs.processed_at_ms, {table: frame})
    return sum(written.values())


def write_dead_letters(frame: pl.DataFrame, outputs: RunOutputs) -> int:
    """Land one segment's dead letters under a name derived from the run and the segment."""
    if frame.is_empty():
        return 0
    table = frame.with_columns(pl.lit(outputs.run_id, dtype=pl.Int64).alias("run_id")).select(
        DEAD_LETTERS_SCHEMA.names
    )
    # Events set aside after the run's segments were joined name no segment: their file
    # is named by the reason.
    segment = Path(str(frame["segment"][0])).stem or str(frame["reason"][0])
    write_table_atomically(
        table.to_arrow().cast(DEAD_LETTERS_SCHEMA), outputs.dead_letters_file(segment)
    )
    return table.height


def build_pipeline(
    pipeline: beam.Pipeline,
    segment_paths: list[str],
    state_db: Path,
    outputs: RunOutputs,
    catalogue_file: Path,
) -> None:
    """The bounded graph of one local run: read, deduplicate, keep one type per content,
    aggregate, land outputs.

    The run's segments are one element: one worker reads them into one frame, so its
    duplicates meet without a shuffle (`DeduplicateRun`) and each output is one partial
    that is already the run's whole table, written as it is. The whole graph fuses into
    one Beam stage and no frame is ever encoded. Each output is one file per run under
    `lake/<table>/`, named by the run id; dead letters one file per run and segment; the
    run's event ids go to a pending file the ledger commit reads.
    """
    parsed = (
        pipeline
        | "SegmentPaths" >> beam.Create([segment_paths], reshuffle=False)
        | "ParseEvents" >> ParseEvents()
    )
    unique = parsed.events | "Deduplicate" >> DeduplicateRun(state_db, catalogue_file)
    # Few steps: each costs Beam tens of milliseconds to build and run, whatever its data.
    # One write step for all outputs rather than a Flatten of one branch per output: the
    # runner materialises a Flatten's inputs, which would encode every output frame again.
    (
        unique.events
        | "Aggregate" >> Aggregate()
        | "WriteOutputs" >> beam.Map(write_output, outputs.sink, outputs)
    )
    unique[UNIQUE_EVENTS] | "WriteSeenIds" >> beam.Map(write_seen_ids, outputs)
    unique[CONTENT_TYPES_DECIDED] | "WriteContentTypes" >> beam.Map(write_content_types, outputs)
    parsed[DEAD_LETTERS] | "WriteDeadLetters" >> beam.Map(write_dead_letters, outputs)
    unique[DEAD_LETTERS] | "WriteTypeConflicts" >> beam.Map(write_dead_letters, outputs)


class RunOptions(PipelineOptions):
    """Pipeline options whose views are made once per options class.

    Beam asks for a view (`view_as`) over a hundred times while building and running one
    small graph (every type check asks afresh), and each view parses the options again with
    a newly built argument parser: a tenth of a second per run of local mode. Views share
    one option store, so handing out the same view every time changes no value.
    """

    def view_as(self, cls: type[PipelineOptionsT]) -> PipelineOptionsT:
        views: dict[type, PipelineOptions] = self.__dict__.setdefault("_views", {})
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]  # type: ignore[return-value]


def _counter(result: beam.runners.runner.PipelineResult, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE).with_name(name))
    return int(sum(counter.committed or 0 for counter in found["counters"]))


class LocalRunner:
    """Plans, runs and commits one run at a time; `run_once` is safe to repeat after a crash."""

    def __init__(
        self, layout: DataLayout, max_segments_per_run: int = 500, log_dir: Path | None = None
    ) -> None:
        self.layout = layout.ensure()
        self.log_dir = log_dir or self.layout.log_dir
        """The segment log this runner reads (MARQUEE_EVENT_LOG_URL when it names a file://)."""
        ensure_lake(self.layout)
        self.pending_dir = self.layout.state_db.parent / "pending"
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(self.layout.state_db)
        self.max_segments_per_run = max_segments_per_run
        self.dedup_window_ms = get_settings().lateness_horizon_s * 1000
        """How long (by received_at) an event id is remembered: the lateness horizon, so
        a copy the API still accepts never counts twice (METRICS.md)."""
        self.runs_done = 0

    def run_once(self) -> RunStats | None:
        """Process the next batch of sealed segments; None when there was nothing to do."""
        with self.ledger.held():
            return self._run_next()

    def _run_next(self) -> RunStats | None:
        recover_open_segments(self.log_dir)
        sealed = [path.name for path in sealed_segments(self.log_dir)]
        run = self.ledger.plan(sealed, self.max_segments_per_run)
        if run is None:
            return None
        started = time.monotonic()
        outputs = RunOutputs(
            lake_dir=self.layout.lake_dir,
            seen_ids_file=self.pending_dir / f"run-{run.run_id:012d}.ids.parquet",
            content_types_file=self.pending_dir / f"run-{run.run_id:012d}.types.parquet",
            run_id=run.run_id,
            processed_at_ms=int(time.time() * 1000),
        )
        stats = self._execute(run, outputs)
        types_file = outputs.content_types_file
        totals = self.ledger.commit(run, outputs.seen_ids_file, stats, types_file)
        outputs.seen_ids_file.unlink(missing_ok=True)
        if types_file is not None:
            types_file.unlink(missing_ok=True)
        self._write_status(run, totals)
        self.runs_done += 1
        if self.runs_done % 100 == 0:
            self.ledger.forget_seen_older_than(self.dedup_window_ms)
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

    def _write_status(self, run: PlannedRun, totals: dict[str, int]) -> None:
        status = {
            **totals,
            "last_run_id": run.run_id,
            "last_commit_at_ms": int(time.time() * 1000),
        }
        tmp = self.layout.pipeline_status.with_suffix(".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, self.layout.pipeline_status)

    def _execute(self, run: PlannedRun, outputs: RunOutputs) -> RunStats:
        paths = [str(self.log_dir / name) for name in run.segments]
        pipeline = beam.Pipeline(runner=FnApiRunner(), options=RunOptions([]))
        build_pipeline(
            pipeline, paths, self.layout.state_db, outputs, self.layout.catalog_content_file
        )
        result = pipeline.run()
        result.wait_until_finish()
        minute_file = outputs.minute_file
        minute_rows = pq.read_metadata(minute_file).num_rows if minute_file.exists() else 0
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


def run_local(
    layout: DataLayout,
    once: bool,
    interval_s: float,
    max_segments_per_run: int = 500,
    log_dir: Path | None = None,
) -> None:
    """`--once`: drain and return (a fault ends the command). Otherwise loop until SIGINT or
    SIGTERM: runs as segments are sealed, and every MARQUEE_COMPACTION_INTERVAL_S a
    maintenance step (retention, lake compaction: `pipelines.maintenance`). A fault in a run
    or a step (disk full, the ledger locked by another process) is logged and retried with
    exponential backoff (`marquee.backoff`); a run that failed part-way is pending in the
    ledger and is redone whole."""
    if once:
        runner = LocalRunner(layout, max_segments_per_run=max_segments_per_run, log_dir=log_dir)
        runs = runner.drain()
        log.info("done: %d runs committed", runs)
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    _loop(layout, interval_s, max_segments_per_run, log_dir, stop)


def _loop(
    layout: DataLayout,
    interval_s: float,
    max_segments_per_run: int,
    log_dir: Path | None,
    stop: threading.Event,
) -> None:
    from marquee.backoff import Backoff
    from pipelines.maintenance import Maintenance

    settings = get_settings()
    backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
    runner: LocalRunner | None = None
    maintenance: Maintenance | None = None
    next_maintenance = time.monotonic() + settings.compaction_interval_s
    while not stop.is_set():
        started = time.monotonic()
        try:
            if runner is None:
                runner = LocalRunner(layout, max_segments_per_run, log_dir)
                maintenance = Maintenance.of(settings, runner.layout, runner.ledger, runner.log_dir)
                log.info("local mode: watching %s every %.1f s", runner.log_dir, interval_s)
            while not stop.is_set() and runner.run_once() is not None:
                pass
            if maintenance and settings.compaction_interval_s and started >= next_maintenance:
                maintenance.step()
                next_maintenance = time.monotonic() + settings.compaction_interval_s
        except Exception as error:  # any fault of one cycle: the loop outlives it
            stop.wait(backoff.report(log, "pipeline run", error))
            continue
        if backoff.succeeded():
            log.info("pipeline recovered: runs commit again")
        stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    log.info("stopped after %d runs", runner.runs_done if runner else 0)
