"""Streaming mode: the shared aggregates as one unbounded Beam job, for Dataflow or Flink.

Local mode (`local_runner`) runs bounded pipelines over sealed segments; when one machine is
not enough, the API publishes to Kafka or Pub/Sub and this job consumes the topic. It
computes the same per-minute tables, view partials and viewer facts with the same pure
functions (`pipelines.aggregates`, `views`, `viewer_facts`) and lands them through the
same sinks (`pipelines.sinks`).

Event time. Every log record carries `event_time_ms` (the API's clock-corrected event
time). The Kafka publisher sets it as the message's CreateTime and the Pub/Sub publisher as
the `event_time_ms` attribute, so the source stamps each element with its event time and
the runner's watermark estimates how far event time has progressed.

Windows and triggers. Events fall into event-time FixedWindows of 60 s (the minute grain
of every per-minute table). Each window fires early every `--early-firing-s` of processing
time (dashboards see a minute while it fills), on time when the watermark passes its end,
and once more for every late element, for up to `--allowed-lateness-s` (default: the
ingestion API's lateness horizon, MARQUEE_LATENESS_HORIZON_S, so every event the API
accepts can still be counted). Panes are DISCARDING: each firing carries only the events
that arrived since the previous firing, so every pane is a partial and the merge of all
panes equals the result over all events at once, the property every output has (DESIGN.md,
decision 2). ACCUMULATING panes would repeat earlier events and sum them twice.

Validation. `ValidateRecords` (`pipelines.validation`) checks the records of each bundle
with the function local mode uses, so both modes keep and refuse the same records, with
the same reasons and payloads.

Late data. An element whose window expired (window end + allowed lateness before the
watermark) is dropped by the runner. To count those drops rather than lose them silently,
`DropTooLate` applies the same rule first, against the watermark it learns from event-time
timers, and sends the element to the dead letters (reason `beyond_allowed_lateness`,
counter `marquee/too_late`). Its view of the watermark lags the runner's by at most one
timer firing, so the counter is a lower bound of the runner's own drops (Dataflow shows
those as droppedDueToLateness).

Deduplication. `DropDuplicates` is a stateful DoFn keyed by `event_id`: a flag per id, and
an event-time timer that clears it `--dedup-window-s` after the event's time (default: the
ingestion lateness horizon, 7 days, as METRICS.md asks: an id counts once however late it
is re-sent within the horizon, and the API refuses copies older than that). State grows
with the ids seen in one window: about 150-250 bytes per id in the runner's state store
(the 36-byte id as key, a 1-byte flag, a timer), i.e. roughly 150-250 MB per million
events in the window, spread across workers by key. The first copy to reach the DoFn wins
(local mode keeps the first *received*; they differ only for copies whose corrected times
differ, a client retry straddling a clock correction).

Batches, not events. The source gives one element per record; after deduplication the
records of a window are keyed by shard and combined (`RecordsToPartials`): the combiner
keeps raw lines and turns them into a Polars frame and then into partials every
`COMPACT_EVERY` records and when the pane fires, so the aggregation is columnar.

Each pane becomes one batch for the sinks, with a deterministic id derived from (window,
shard, pane index): a retried bundle rewrites the same batch and counts nothing twice.

Run it (docs/pipelines-streaming.md has the details and what cannot run here):
    uv run python -m pipelines streaming --source kafka://broker:9092/marquee-events \\
        --runner FlinkRunner --flink_master localhost:8081 --streaming
    uv run python -m pipelines streaming --source pubsub://projects/P/topics/marquee-events \\
        --subscription projects/P/subscriptions/marquee-pipeline \\
        --runner DataflowRunner --project P --region europe-west1 \\
        --temp_location gs://B/tmp --streaming --sink snowflake
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
import polars as pl
from apache_beam.coders import BooleanCoder, VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms import trigger, window
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration, Timestamp

from pipelines import records
from pipelines.sinks import BatchSink
from pipelines.sinks.lake import LakeSink
from pipelines.transforms import ALL_PARTIALS, MERGES, PartialsOf
from pipelines.validation import (
    DEAD_LETTERS,
    NAMESPACE,
    Reason,
    ValidateRecords,
    dead_letter_frame,
)

WINDOW_S = 60
DEFAULT_EARLY_FIRING_S = 10
DEFAULT_SHARDS = 16
COMPACT_EVERY = 20_000
"""Raw records a combiner accumulator holds before turning them into partial frames."""

STREAM_SEGMENT = "stream"
"""The `segment` column of dead letters that came from a broker rather than a segment."""


@dataclass(frozen=True)
class StreamingConfig:
    """What the streaming graph needs besides the source and the sinks."""

    allowed_lateness_s: int
    dedup_window_s: int
    """The command's default is the lateness horizon, as local mode's."""
    early_firing_s: int = DEFAULT_EARLY_FIRING_S
    shards: int = DEFAULT_SHARDS


# -- validation (`pipelines.validation`) ---------------------------------------------


def shard_of(event_id: str, shards: int) -> int:
    """A stable shard: crc32, not hash(), which differs between worker processes."""
    return zlib.crc32(event_id.encode()) % shards


# -- late data ---------------------------------------------------------------------------


def window_expiry(timestamp: Timestamp, allowed_lateness: Duration) -> Timestamp:
    """End of the element's 60 s window plus the allowed lateness: after that it is dropped."""
    seconds = WINDOW_S * 1_000_000
    window_end = Timestamp(micros=(timestamp.micros // seconds + 1) * seconds)
    return window_end + allowed_lateness


_FLOOR = ReadModifyWriteStateSpec("floor_micros", VarIntCoder())
_NEXT = ReadModifyWriteStateSpec("next_micros", VarIntCoder())
_LAST = ReadModifyWriteStateSpec("last_expiry_micros", VarIntCoder())
_TICK = TimerSpec("tick", TimeDomain.WATERMARK)
FLOOR_STATE = beam.DoFn.StateParam(_FLOOR)
NEXT_STATE = beam.DoFn.StateParam(_NEXT)
LAST_STATE = beam.DoFn.StateParam(_LAST)
TICK_TIMER = beam.DoFn.TimerParam(_TICK)
ELEMENT_TIMESTAMP = beam.DoFn.TimestampParam
"""DoFn parameters as module singletons (Beam matches them by default value)."""


class DropTooLate(beam.DoFn):
    """(shard, (event_id, record)) -> (event_id, record), or a dead letter if its window expired.

    The watermark is not visible to a Python DoFn, but an event-time timer firing at T
    proves the watermark reached T. Per shard, the DoFn keeps the latest such T (`floor`)
    and a chain of timers one window apart up to the latest expiry it has seen, so `floor`
    follows the watermark in steps of one window. An element whose expiry is at or before
    `floor` is one the runner would drop: it is counted and dead-lettered instead.
    """

    def __init__(self, allowed_lateness_s: int) -> None:
        self.allowed_lateness_s = allowed_lateness_s
        self.too_late = Metrics.counter(NAMESPACE, "too_late")

    def process(
        self,
        element: tuple[int, tuple[str, bytes]],
        timestamp: Any = ELEMENT_TIMESTAMP,
        floor: Any = FLOOR_STATE,
        next_tick: Any = NEXT_STATE,
        last_expiry: Any = LAST_STATE,
        tick: Any = TICK_TIMER,
    ) -> Iterator[object]:
        _, (event_id, line) = element
        expiry = window_expiry(timestamp, Duration(seconds=self.allowed_lateness_s)).micros
        known = floor.read()
        if known is not None and expiry <= known:
            self.too_late.inc()
            yield TaggedOutput(DEAD_LETTERS, (Reason.BEYOND_ALLOWED_LATENESS.value, line))
            return
        if (last_expiry.read() or expiry) <= expiry:
            last_expiry.write(expiry)
        pending = next_tick.read()
        if pending is None or expiry < pending:
            tick.set(Timestamp(micros=expiry))
            next_tick.write(expiry)
        yield event_id, line

    @on_timer(_TICK)
    def advance(
        self,
        fired: Any = ELEMENT_TIMESTAMP,
        floor: Any = FLOOR_STATE,
        next_tick: Any = NEXT_STATE,
        last_expiry: Any = LAST_STATE,
        tick: Any = TICK_TIMER,
    ) -> Iterator[object]:
        floor.write(fired.micros)
        next_tick.clear()
        last = last_expiry.read()
        if last is not None and last > fired.micros:
            following = fired.micros + WINDOW_S * 1_000_000
            tick.set(Timestamp(micros=following))
            next_tick.write(following)
        return iter(())


# -- deduplication -----------------------------------------------------------------------


_SEEN = ReadModifyWriteStateSpec("seen", BooleanCoder())
_EXPIRE = TimerSpec("expire", TimeDomain.WATERMARK)
SEEN_STATE = beam.DoFn.StateParam(_SEEN)
EXPIRE_TIMER = beam.DoFn.TimerParam(_EXPIRE)


class DropDuplicates(beam.DoFn):
    """(event_id, record) -> record, once per event_id within the deduplication window."""

    def __init__(self, dedup_window_s: int) -> None:
        self.dedup_window_s = dedup_window_s
        self.duplicates = Metrics.counter(NAMESPACE, "duplicates")

    def process(
        self,
        element: tuple[str, bytes],
        timestamp: Any = ELEMENT_TIMESTAMP,
        seen: Any = SEEN_STATE,
        expire: Any = EXPIRE_TIMER,
    ) -> Iterator[bytes]:
        _, line = element
        if seen.read():
            self.duplicates.inc()
            return
        seen.write(True)
        expire.set(timestamp + Duration(seconds=self.dedup_window_s))
        yield line

    @on_timer(_EXPIRE)
    def forget(self, seen: Any = SEEN_STATE) -> Iterator[bytes]:
        seen.clear()
        return iter(())


# -- aggregation -------------------------------------------------------------------------


@dataclass
class PartialsAccumulator:
    """Raw records not yet aggregated, and the merged partials of those that were."""

    pending: list[bytes] = field(default_factory=list)
    partials: dict[str, pl.DataFrame] = field(default_factory=dict)


class RecordsToPartials(beam.CombineFn):
    """Records of one window and shard -> the merged partial of every output table.

    Adding a record only appends its bytes; every COMPACT_EVERY records, and when the pane
    fires, the pending records are parsed in one Polars call and aggregated with the
    shared partial functions, then merged with MERGES. So the work per event is columnar,
    and a pane's result is itself a partial that merges with the other panes.
    """

    def create_accumulator(self) -> PartialsAccumulator:
        return PartialsAccumulator()

    def add_input(self, accumulator: PartialsAccumulator, line: bytes) -> PartialsAccumulator:
        accumulator.pending.append(line)
        if len(accumulator.pending) >= COMPACT_EVERY:
            return self.compact(accumulator)
        return accumulator

    def merge_accumulators(self, accumulators: Any) -> PartialsAccumulator:
        merged = PartialsAccumulator()
        by_table: dict[str, list[pl.DataFrame]] = {}
        for accumulator in accumulators:
            merged.pending.extend(accumulator.pending)
            for table, frame in accumulator.partials.items():
                by_table.setdefault(table, []).append(frame)
        merged.partials = {table: MERGES[table](frames) for table, frames in by_table.items()}
        return merged

    def compact(self, accumulator: PartialsAccumulator) -> PartialsAccumulator:
        if not accumulator.pending:
            return accumulator
        data = b"\n".join(accumulator.pending) + b"\n"
        frame = records.parse_segment(STREAM_SEGMENT, data).frame
        fresh = dict(PartialsOf(ALL_PARTIALS)(frame))
        partials = {
            table: MERGES[table]([part, *self._existing(accumulator, table)])
            for table, part in fresh.items()
        }
        return PartialsAccumulator([], partials)

    @staticmethod
    def _existing(accumulator: PartialsAccumulator, table: str) -> list[pl.DataFrame]:
        found = accumulator.partials.get(table)
        return [] if found is None else [found]

    def extract_output(self, accumulator: PartialsAccumulator) -> dict[str, pl.DataFrame]:
        return self.compact(accumulator).partials


@dataclass(frozen=True)
class PaneBatch:
    """One firing of one window and shard: a batch of partials for the sinks."""

    batch_id: int
    window_start_ms: int
    shard: int
    pane_index: int
    timing: str
    """EARLY, ON_TIME or LATE."""
    tables: dict[str, pl.DataFrame]


STREAM_BATCH_IDS_FROM = 1 << 61
"""Streaming batch ids live above this, far from local mode's run ids (1, 2, 3, ...)."""


def batch_id_of(*parts: object) -> int:
    """A stable 64-bit id for a batch, from what identifies it; same parts, same id."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=7).digest()
    return STREAM_BATCH_IDS_FROM + int.from_bytes(digest, "big")


WINDOW = beam.DoFn.WindowParam
PANE_INFO = beam.DoFn.PaneInfoParam


class StampPane(beam.DoFn):
    """(shard, partials) of a firing -> PaneBatch with an id derived from window and pane."""

    def __init__(self) -> None:
        self.panes = Metrics.counter(NAMESPACE, "panes")

    def process(
        self,
        element: tuple[int, dict[str, pl.DataFrame]],
        window_: Any = WINDOW,
        pane: Any = PANE_INFO,
    ) -> Iterator[PaneBatch]:
        shard, tables = element
        start_ms = int(window_.start.micros // 1000)
        self.panes.inc()
        yield PaneBatch(
            batch_id=batch_id_of(start_ms, shard, pane.index),
            window_start_ms=start_ms,
            shard=shard,
            pane_index=pane.index,
            timing=_TIMINGS.get(pane.timing, str(pane.timing)),
            tables=tables,
        )


_TIMINGS = {0: "EARLY", 1: "ON_TIME", 2: "LATE", 3: "UNKNOWN"}


def windowing(config: StreamingConfig) -> beam.WindowInto:
    """60 s event-time windows; early, on-time and late firings; discarding panes."""
    return beam.WindowInto(
        window.FixedWindows(WINDOW_S),
        trigger=trigger.AfterWatermark(
            early=trigger.AfterProcessingTime(config.early_firing_s),
            late=trigger.AfterCount(1),
        ),
        accumulation_mode=trigger.AccumulationMode.DISCARDING,
        allowed_lateness=Duration(seconds=config.allowed_lateness_s),
    )


class StreamingAggregates(beam.PTransform):
    """Timestamped raw records -> {"panes": PaneBatch, "dead_letters": (reason, record)}.

    The source-independent middle of the job; the source stamps each record with its
    event time before it gets here.
    """

    def __init__(self, config: StreamingConfig) -> None:
        super().__init__()
        self.config = config

    def expand(self, lines: beam.PCollection) -> dict[str, beam.PCollection]:
        config = self.config
        parsed = lines | "ValidateRecords" >> ValidateRecords(STREAM_SEGMENT)
        timely = (
            parsed.events
            | "KeyByShardForLateness" >> beam.Map(lambda kv: (shard_of(kv[0], config.shards), kv))
            | "DropTooLate"
            >> beam.ParDo(DropTooLate(config.allowed_lateness_s)).with_outputs(
                DEAD_LETTERS, main="timely"
            )
        )
        panes = (
            timely.timely
            | "DropDuplicates" >> beam.ParDo(DropDuplicates(config.dedup_window_s))
            | "EventTimeWindows" >> windowing(config)
            | "KeyByShard" >> beam.Map(lambda line: (zlib.crc32(line) % config.shards, line))
            | "PartialsPerPane" >> beam.CombinePerKey(RecordsToPartials())
            | "StampPane" >> beam.ParDo(StampPane())
        )
        dead = (
            parsed[DEAD_LETTERS],
            timely[DEAD_LETTERS],
        ) | "FlattenDeadLetters" >> beam.Flatten()
        return {"panes": panes, DEAD_LETTERS: dead}


# -- sources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """Where the job reads: a broker URL (the API's MARQUEE_EVENT_LOG_URL) and its options."""

    url: str
    subscription: str | None = None
    """Pub/Sub: projects/P/subscriptions/S (without one, Dataflow makes a temporary one)."""
    kafka_consumer_config: Mapping[str, str] = field(default_factory=dict)
    """Kafka: extra consumer properties (group.id, security.protocol, sasl.*, ...)."""


class ReadLogRecords(beam.PTransform):
    """Broker messages -> raw log records (bytes), stamped with their event time.

    Chosen by the URL scheme the API's event log uses (`marquee.eventlog.factory`):
    `kafka://` reads with ReadFromKafka (a cross-language transform: the runner needs Java),
    timestamps from each message's CreateTime, which the publisher sets to the event time;
    `pubsub://` reads with ReadFromPubSub, timestamps from the `event_time_ms` attribute.
    """

    def __init__(self, source: SourceSpec) -> None:
        super().__init__()
        self.source = source

    def expand(self, pipeline: beam.pvalue.PBegin) -> beam.PCollection:
        parts = urlsplit(self.source.url.strip())
        if parts.scheme == "kafka":
            from apache_beam.io.kafka import ReadFromKafka

            from marquee.eventlog.kafka import parse_kafka_url

            kafka = parse_kafka_url(parts)
            consumer = {
                "bootstrap.servers": kafka.producer["bootstrap.servers"],
                "group.id": "marquee-streaming",
                "auto.offset.reset": "earliest",
                **self.source.kafka_consumer_config,
            }
            return (
                pipeline
                | "ReadFromKafka"
                >> ReadFromKafka(
                    consumer_config=consumer,
                    topics=[kafka.topic],
                    timestamp_policy=ReadFromKafka.create_time_policy,
                )
                | "MessageValues" >> beam.Values()
            )
        if parts.scheme == "pubsub":
            from apache_beam.io.gcp.pubsub import ReadFromPubSub

            from marquee.eventlog.pubsub import parse_pubsub_url

            pubsub = parse_pubsub_url(parts)
            return pipeline | "ReadFromPubSub" >> ReadFromPubSub(
                topic=None if self.source.subscription else pubsub.topic,
                subscription=self.source.subscription,
                timestamp_attribute="event_time_ms",
            )
        raise ValueError(
            f"streaming mode reads Kafka (kafka://...) or Pub/Sub (pubsub://...), not "
            f"{parts.scheme or 'a URL without scheme'}://; a segment log is local mode's"
        )


# -- sinks -------------------------------------------------------------------------------


class WritePanes(beam.DoFn):
    """Land each pane as one batch through a sink (lake or Snowflake), idempotent per id.

    The sink is opened once per DoFn instance (a Snowflake connection is not cheap) from a
    picklable factory. processed_at_ms is the wall clock at landing, not part of the data:
    it feeds the freshness figures, and a rewrite of the same batch only refreshes it.
    """

    def __init__(self, open_sink: Callable[[], BatchSink]) -> None:
        self.open_sink = open_sink
        self.sink: BatchSink | None = None

    def setup(self) -> None:
        self.sink = self.open_sink()

    def process(self, batch: PaneBatch) -> Iterator[int]:
        assert self.sink is not None, "setup() opens the sink"
        # Every pane of every shard is a batch: tables without rows are left out, so a
        # streaming lake gathers fewer small files (fewer `--shards` and a longer
        # `--early-firing-s` mean fewer still).
        tables = {table: frame for table, frame in batch.tables.items() if not frame.is_empty()}
        self.sink.write_batch(batch.batch_id, int(time.time() * 1000), tables)
        yield batch.batch_id

    def teardown(self) -> None:
        if self.sink is not None:
            self.sink.close()
            self.sink = None


class WriteDeadLetters(beam.DoFn):
    """(reason, [records]) batches -> lake/dead_letters files, named by their content."""

    def __init__(self, lake_dir: str) -> None:
        self.lake_dir = lake_dir

    def process(self, element: tuple[str, list[bytes]]) -> Iterator[int]:
        reason, lines = element
        payloads = [line.decode("utf-8", "replace") for line in lines]
        frame = dead_letter_frame(STREAM_SEGMENT, reason, payloads)
        batch_id = batch_id_of(DEAD_LETTERS, reason, *sorted(payloads))
        LakeSink(self.lake_dir).write_batch(batch_id, 0, {DEAD_LETTERS: frame})
        yield batch_id


def open_snowflake_sink() -> BatchSink:
    """The Snowflake sink, connected with the MARQUEE_SNOWFLAKE_* settings."""
    from pipelines.sinks.snowflake import SnowflakeSink

    return SnowflakeSink.from_env()


def build_streaming_pipeline(
    pipeline: beam.Pipeline,
    source: SourceSpec,
    config: StreamingConfig,
    open_sink: Callable[[], BatchSink],
    lake_dir: Path,
) -> None:
    """The whole unbounded job: read, aggregate per pane, land panes and dead letters."""
    outputs = (
        pipeline
        | "ReadLogRecords" >> ReadLogRecords(source)
        | "Aggregate" >> (StreamingAggregates(config))
    )
    outputs["panes"] | "WritePanes" >> beam.ParDo(WritePanes(open_sink))
    land_dead_letters(outputs[DEAD_LETTERS], lake_dir)


def land_dead_letters(dead: beam.PCollection, lake_dir: Path) -> beam.PCollection:
    """Batch dead letters per reason (1,000 or a minute) and land them in the lake.

    They are re-windowed into the global window first: a record too late for its own
    window must not be dropped again on its way to the dead letters.
    """
    return (
        dead
        | "DeadLettersGlobalWindow" >> beam.WindowInto(window.GlobalWindows())
        | "BatchDeadLetters" >> beam.GroupIntoBatches(1000, max_buffering_duration_secs=WINDOW_S)
        | "WriteDeadLetters" >> beam.ParDo(WriteDeadLetters(str(lake_dir)))
    )
