"""Named Beam transforms shared by every mode: parse, deduplicate, aggregate, summarise.

Elements are Polars frames (one per segment, shard or local run), not single events: Beam's
Python per-element overhead allows about 15,000 events/s here, while columnar work inside
each element runs at hundreds of thousands. Each transform is a composite with a name so a
run graph reads like the flow: ParseEvents -> Deduplicate (or DeduplicateRun) ->
AggregatePerMinute, AggregateEngagementPerMinute, SummariseViews, CollectViewerFacts ->
MergePartialsByTable. Every output is computed as a (table, partial) per frame; partials
merge in any order (per run and table on a runner with several shards, and downstream
across runs by the same rules). Local mode has one frame per run and skips both shuffles.

Frames that cross a shuffle (the deduplication's GroupByKey, the merge by table) are encoded
as Arrow IPC streams by `FrameCoder`, registered for `pl.DataFrame`: Beam's default for an
unknown type pickles it, and pickling a Polars frame cost three times as much.

Bad records never raise: they leave through a `dead_letters` output with a reason and are
counted with a Beam metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
import polars as pl
import pyarrow as pa
import pyarrow.ipc as pa_ipc
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.typehints import Tuple

from marquee.lake import VIEW_SUMMARIES
from pipelines import aggregates, records, viewer_facts, views
from pipelines.ledger import already_seen

NAMESPACE = "marquee"
DEAD_LETTERS = "dead_letters"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class FrameCoder(beam.coders.Coder):
    """A Polars frame as an Arrow IPC stream: columnar buffers copied, no per-row work."""

    def encode(self, value: pl.DataFrame) -> bytes:
        table = value.to_arrow()
        sink = pa.BufferOutputStream()
        with pa_ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue())

    def decode(self, encoded: bytes) -> pl.DataFrame:
        table = pa_ipc.open_stream(pa.py_buffer(encoded)).read_all()
        frame = pl.from_arrow(table, rechunk=False)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def estimate_size(self, value: pl.DataFrame, nested: bool = False) -> int:
        """Beam sizes every element it counts; the default would encode the frame again."""
        return int(value.estimated_size())

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self) -> type:
        return pl.DataFrame


beam.coders.registry.register_coder(pl.DataFrame, FrameCoder)

ShardFrame = Tuple[int, pl.DataFrame]
TableFrame = Tuple[str, pl.DataFrame]
"""Element type hints: they make Beam pick `FrameCoder` instead of pickling."""


def dead_letter_frame(segment: str, reason: str, payloads: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "segment": [segment] * len(payloads),
            "reason": [reason] * len(payloads),
            "payload": payloads,
        },
        schema={"segment": pl.Utf8, "reason": pl.Utf8, "payload": pl.Utf8},
    )


def validate_segment(batch: records.SegmentBatch) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """A parsed segment -> (usable records, dead letters with their reasons, or None)."""
    valid, incomplete = records.split_invalid(batch.frame)
    bad_id = ~pl.col("event_id").str.contains(UUID_PATTERN)
    invalid_id = valid.filter(bad_id)
    valid = valid.filter(~bad_id)
    dead = [
        dead_letter_frame(batch.segment, reason, [payload]) for reason, payload in batch.bad_lines
    ]
    if incomplete.height:
        dead.append(
            dead_letter_frame(batch.segment, "missing_required_field", _payloads(incomplete))
        )
    if invalid_id.height:
        dead.append(dead_letter_frame(batch.segment, "invalid_event_id", _payloads(invalid_id)))
    return valid, pl.concat(dead) if dead else None


class ReadAndValidateSegment(beam.DoFn):
    """Segment path(s) -> one frame of usable records; unusable ones to `dead_letters`.

    An element is one segment path or a list of them (local mode passes a whole run as one
    element, see `DeduplicateRun`); each segment's dead letters leave as one frame.
    """

    def __init__(self) -> None:
        self.events_read = Metrics.counter(NAMESPACE, "events_read")
        self.dead_letters = Metrics.counter(NAMESPACE, "dead_letters")

    def process(self, paths: str | Sequence[str]) -> Iterator[object]:
        valid_parts = []
        for path in [paths] if isinstance(paths, str) else paths:
            batch = records.read_segment(Path(path))
            self.events_read.inc(batch.frame.height + len(batch.bad_lines))
            valid, letters = validate_segment(batch)
            if letters is not None:
                self.dead_letters.inc(letters.height)
                yield TaggedOutput(DEAD_LETTERS, letters)
            if valid.height:
                valid_parts.append(valid)
        if valid_parts:
            yield pl.concat(valid_parts, rechunk=False)


def _payloads(frame: pl.DataFrame) -> list[str]:
    return [line for line in frame.write_ndjson().splitlines() if line]


class ParseEvents(beam.PTransform):
    """Sealed segment paths (or lists of them) -> frames of valid log records, plus dead
    letters."""

    def expand(self, paths: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return paths | "ReadAndValidate" >> beam.ParDo(ReadAndValidateSegment()).with_output_types(
            pl.DataFrame
        ).with_outputs(DEAD_LETTERS, main="events")


class KeyByShard(beam.DoFn):
    """Split a frame by a hash of event_id so every copy of an event meets in one shard."""

    def __init__(self, shards: int) -> None:
        self.shards = shards

    def process(self, frame: pl.DataFrame) -> Iterator[tuple[int, pl.DataFrame]]:
        if self.shards == 1:
            yield 0, frame
            return
        sharded = frame.with_columns(
            (pl.col("event_id").hash(seed=0) % self.shards).cast(pl.Int64).alias("_shard")
        )
        for (shard,), part in sharded.partition_by("_shard", as_dict=True).items():
            yield int(shard), part.drop("_shard")


class DropDuplicates(beam.DoFn):
    """Frames that hold every copy of their events -> one frame of events neither repeated
    nor counted by a past run."""

    def __init__(self, state_db: str) -> None:
        self.state_db = state_db
        self.duplicates = Metrics.counter(NAMESPACE, "duplicates")

    def process(self, frames: pl.DataFrame | Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        parts = [frames] if isinstance(frames, pl.DataFrame) else list(frames)
        combined = pl.concat(parts, rechunk=False)
        unique = aggregates.deduplicate(combined)
        seen = already_seen(Path(self.state_db), unique["event_id"])
        fresh = unique.filter(~pl.col("event_id").is_in(seen.implode())) if seen.len() else unique
        self.duplicates.inc(combined.height - fresh.height)
        if fresh.height:
            yield fresh


class Deduplicate(beam.PTransform):
    """Frames of events -> frames with each event_id at most once, across runs too.

    Every copy of an event must meet in one place, so frames are split by a hash of
    event_id into `shards` and grouped: that GroupByKey is the one place where whole events
    cross a shuffle. One shard (the default) suits one worker, as in local mode; give a
    distributed runner as many shards as workers.
    """

    def __init__(self, state_db: Path, shards: int = 1) -> None:
        super().__init__()
        self.state_db = str(state_db)
        self.shards = shards

    def expand(self, frames: beam.PCollection) -> beam.PCollection:
        return (
            frames
            | "KeyByShard" >> beam.ParDo(KeyByShard(self.shards)).with_output_types(ShardFrame)
            | "GroupShards" >> beam.GroupByKey()
            | "ShardFrames" >> beam.Values()
            | "DropDuplicates"
            >> beam.ParDo(DropDuplicates(self.state_db)).with_output_types(pl.DataFrame)
        )


class DeduplicateRun(beam.PTransform):
    """Frames that each hold a whole run -> the same frames without repeated or seen events.

    Local mode reads a run's segments as one element (one worker does all the work), so
    every copy of an event within the run is in one frame and no shuffle is needed: whole
    events never cross Beam's data plane, which cost a third of a run's time when they did
    (encoding, and copying through the runner several times). Across runs, the seen set
    in the ledger catches the copies. Memory: the run's records, about 210 MB per million
    events of the benchmark's player traffic (Polars' estimate), plus its outputs.
    """

    def __init__(self, state_db: Path) -> None:
        super().__init__()
        self.state_db = str(state_db)

    def expand(self, frames: beam.PCollection) -> beam.PCollection:
        return frames | "DropDuplicates" >> beam.ParDo(
            DropDuplicates(self.state_db)
        ).with_output_types(pl.DataFrame)


Partial = tuple[str, pl.DataFrame]
"""(lake table name, partial frame of that table)."""


@dataclass(frozen=True)
class PartialsOf:
    """Frame of unique events -> the (table, partial) of each of the given outputs."""

    outputs: tuple[tuple[str, Callable[[pl.DataFrame], pl.DataFrame]], ...]

    def __call__(self, frame: pl.DataFrame) -> list[Partial]:
        return [(table, partial(frame)) for table, partial in self.outputs]


MERGES: dict[str, Callable[[Sequence[pl.DataFrame]], pl.DataFrame]] = {
    **{table.name: table.merge for table in aggregates.SUM_TABLES},
    VIEW_SUMMARIES: views.merge_view_partials,
    **{facts.name: facts.merge for facts in viewer_facts.FACT_SETS},
}
"""The merge function of every mergeable output, by lake table name."""


MINUTE_PARTIALS = ((aggregates.MINUTES.name, aggregates.MINUTES.partial),)
ENGAGEMENT_PARTIALS = tuple((table.name, table.partial) for table in aggregates.ENGAGEMENT_TABLES)
VIEW_PARTIALS = ((VIEW_SUMMARIES, views.view_partials),)
FACT_PARTIALS = tuple((facts.name, facts.partial) for facts in viewer_facts.FACT_SETS)
ALL_PARTIALS = (*MINUTE_PARTIALS, *ENGAGEMENT_PARTIALS, *VIEW_PARTIALS, *FACT_PARTIALS)
"""(table, partial function) of every mergeable output: the transforms below, and the
benchmark's plain-Polars floor, compute exactly these."""


class AggregatePerMinute(beam.PTransform):
    """Frames of unique events -> (minute_aggregates, partial) per frame."""

    def expand(self, frames: beam.PCollection) -> beam.PCollection:
        return frames | "PartialMinutes" >> beam.FlatMap(
            PartialsOf(MINUTE_PARTIALS)
        ).with_output_types(TableFrame)


class AggregateEngagementPerMinute(beam.PTransform):
    """Frames of unique events -> partials of the creator-, tip- and reaction-minute tables."""

    def expand(self, frames: beam.PCollection) -> beam.PCollection:
        return frames | "PartialEngagementMinutes" >> beam.FlatMap(
            PartialsOf(ENGAGEMENT_PARTIALS)
        ).with_output_types(TableFrame)


class SummariseViews(beam.PTransform):
    """Frames of unique events -> (view_summaries, partial view summaries) per frame.

    A view can span runs: the run's merged partials merge again with those of other runs
    (in dbt, or with `views.merge_view_partials`).
    """

    def expand(self, frames: beam.PCollection) -> beam.PCollection:
        return frames | "PartialViews" >> beam.FlatMap(PartialsOf(VIEW_PARTIALS)).with_output_types(
            TableFrame
        )


class CollectViewerFacts(beam.PTransform):
    """Frames of unique events -> partials of the story, live and creator-day fact sets."""

    def expand(self, frames: beam.PCollection) -> beam.PCollection:
        return frames | "PartialViewerFacts" >> beam.FlatMap(
            PartialsOf(FACT_PARTIALS)
        ).with_output_types(TableFrame)


class MergePartialsByTable(beam.PTransform):
    """(table, partial) pairs of every output -> one (table, merged frame) per table.

    One GroupByKey for all outputs, then one merge step per table: cheaper here than a
    global combine per output (each costs several Beam stages and a side input), and on a
    distributed runner the tables merge in parallel. The `seeded` tables get an empty
    partial so that each of them yields a frame even when the run has no events for it.
    """

    def __init__(
        self,
        merges: Mapping[str, Callable[[Sequence[pl.DataFrame]], pl.DataFrame]] | None = None,
        seeded: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.merges = dict(MERGES if merges is None else merges)
        self.seeded = list(seeded)

    def expand(self, partials: beam.PCollection) -> beam.PCollection:
        seeds = [(table, self.merges[table]([])) for table in self.seeded]
        empty = partials.pipeline | "EmptyPartials" >> beam.Create(
            seeds, reshuffle=False
        ).with_output_types(TableFrame)
        return (
            (partials, empty)
            | "WithEmptyPartials" >> beam.Flatten().with_output_types(TableFrame)
            | "GroupByTable" >> beam.GroupByKey()
            | "MergeByTable" >> beam.MapTuple(MergeTable(self.merges)).with_output_types(TableFrame)
        )


@dataclass(frozen=True)
class MergeTable:
    """(table, its partials) -> (table, merged frame), with that table's merge function.

    A lone partial is already merged (every partial is the merge of its events), so it
    passes through: with one shard, the usual case locally, no table is merged twice.
    """

    merges: Mapping[str, Callable[[Sequence[pl.DataFrame]], pl.DataFrame]]

    def __call__(self, table: str, parts: Iterable[pl.DataFrame]) -> Partial:
        non_empty = [part for part in parts if not part.is_empty()]
        if len(non_empty) == 1:
            return table, non_empty[0]
        return table, self.merges[table](non_empty)
