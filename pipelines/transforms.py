"""Named Beam transforms of local mode: parse, deduplicate, aggregate, summarise.

Elements are Polars frames (one per local run), not single events: Beam's Python
per-element overhead allows about 15,000 events/s here, while columnar work inside each
element runs at hundreds of thousands. Each transform is a composite with a name so a run
graph reads like the flow: ParseEvents -> DeduplicateRun -> Aggregate. Every output
(per-minute tables, view summaries, viewer facts) is computed as a (table, partial) per
frame; partials merge in any order (`MERGES`: across runs
downstream, and across panes in the streaming job, which shares the partial functions).

`FrameCoder`, registered for `pl.DataFrame`, encodes a frame as an Arrow IPC stream:
Beam's default for an unknown type pickles it (three times as costly), and its
`estimate_size` spares the re-encoding Beam would do to size the elements it counts.

Bad records never raise: they leave through a `dead_letters` output with a reason and are
counted with a Beam metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import apache_beam as beam
import polars as pl
import pyarrow as pa
import pyarrow.ipc as pa_ipc
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput
from apache_beam.typehints import Tuple

from marquee.lake import AD_PLAYS, VIEW_SUMMARIES
from pipelines import aggregates, content_types, records, viewer_facts, views
from pipelines.ads import ad_play_partials, merge_ad_plays
from pipelines.ledger import already_seen
from pipelines.validation import (
    DEAD_LETTERS,
    NAMESPACE,
    Reason,
    dead_letter_frame,
    payloads,
    validate,
)


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
        """Beam sizes every element it counts, for its element-size metrics only.

        The default would encode the frame again, and Polars' own estimate walks every
        string of a column (50 ms for a run of a million records); 16 bytes a value is
        close enough for a metric.
        """
        return value.height * value.width * 16

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self) -> type:
        return pl.DataFrame


beam.coders.registry.register_coder(pl.DataFrame, FrameCoder)

TableFrame = Tuple[str, pl.DataFrame]
"""Element type hints: they make Beam pick `FrameCoder` instead of pickling."""


class ReadAndValidateSegment(beam.DoFn):
    """A run's segment paths -> one frame of usable records; unusable ones to `dead_letters`.

    An element is the list of a whole run's segments (see `DeduplicateRun`), read in one
    query. Only when a line or record is unusable are the segments read again one by one,
    so that each segment's dead letters leave as one frame naming it.
    """

    def __init__(self) -> None:
        self.events_read = Metrics.counter(NAMESPACE, "events_read")
        self.dead_letters = Metrics.counter(NAMESPACE, "dead_letters")

    def process(self, paths: Sequence[str]) -> Iterator[object]:
        whole = records.read_segments_at_once([Path(path) for path in paths])
        if whole is not None:
            checked = validate(records.SegmentBatch("", whole, []))
            valid = checked.valid
            if checked.dead_letters is None:  # every record usable: the common case
                self.events_read.inc(valid.height)
                if valid.height:
                    yield valid
                return
        # A bad line or record somewhere: segment by segment, so that each dead letter
        # names its segment.
        valid_parts = []
        for path in paths:
            batch = records.read_segment(Path(path))
            self.events_read.inc(batch.frame.height + len(batch.bad_lines))
            checked = validate(batch)
            valid, letters = checked.valid, checked.dead_letters
            if letters is not None:
                self.dead_letters.inc(letters.height)
                yield TaggedOutput(DEAD_LETTERS, letters)
            if valid.height:
                valid_parts.append(valid)
        if valid_parts:
            yield pl.concat(valid_parts, rechunk=False)


class ParseEvents(beam.PTransform):
    """Lists of sealed segment paths -> frames of valid log records, plus dead letters."""

    def expand(self, paths: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        return paths | "ReadAndValidate" >> beam.ParDo(ReadAndValidateSegment()).with_output_types(
            pl.DataFrame
        ).with_outputs(DEAD_LETTERS, main="events")


FIRST_COPY_MARGIN_MS = 6 * 3600 * 1000
"""How much earlier than an event's time its first copy can have been received: the API
refuses events more than 5 minutes ahead, and copies of one event differ in corrected
time only by the client's clock changes between sends."""


def _first_copy_since(events: pl.DataFrame) -> int | None:
    """The earliest receipt any earlier copy of these events can have: a retry keeps its
    `ts`, so a copy received days after the first has an event time days old too. Live
    traffic then looks among the last hours of seen ids, not the whole horizon's."""
    earliest = events["event_time_ms"].min()
    return None if earliest is None else int(earliest) - FIRST_COPY_MARGIN_MS  # type: ignore[arg-type]


UNIQUE_EVENTS = "unique_events"
"""Every event a run counts for the first time, kept ones and type conflicts alike: the
ids the run's commit adds to the seen set."""
CONTENT_TYPES_DECIDED = "content_types_decided"


class DropDuplicatesKeepOneType(beam.DoFn):
    """A frame that holds every copy of its events -> those events neither repeated nor
    counted by a past run (on `UNIQUE_EVENTS`), and of those the ones that agree with
    their content's decided type (the main output, `pipelines.content_types`); the others
    leave as dead letters (`content_type_conflict`), and the types decided for contents
    nobody knew on `CONTENT_TYPES_DECIDED`."""

    def __init__(self, state_db: str, catalogue_file: str) -> None:
        self.state_db = state_db
        self.catalogue_file = catalogue_file
        self.duplicates = Metrics.counter(NAMESPACE, "duplicates")
        self.dead_letters = Metrics.counter(NAMESPACE, "dead_letters")

    def setup(self) -> None:
        self.catalogue = content_types.CatalogueTypes(Path(self.catalogue_file))

    def process(self, frame: pl.DataFrame) -> Iterator[object]:
        unique = aggregates.deduplicate(frame)
        seen = already_seen(Path(self.state_db), unique["event_id"], _first_copy_since(unique))
        fresh = unique.filter(~pl.col("event_id").is_in(seen.implode())) if seen.len() else unique
        self.duplicates.inc(frame.height - fresh.height)
        if not fresh.height:
            return
        pairs = content_types.named_types(fresh)
        known = content_types.known_types(
            self.catalogue.current(), Path(self.state_db), pairs["content_id"].unique()
        )
        kept, conflicting, decided = content_types.decide(fresh, pairs, known)
        if conflicting.height:
            self.dead_letters.inc(conflicting.height)
            yield TaggedOutput(
                DEAD_LETTERS,
                dead_letter_frame("", Reason.CONTENT_TYPE_CONFLICT, payloads(conflicting)),
            )
        if decided.height:
            yield TaggedOutput(CONTENT_TYPES_DECIDED, decided)
        if kept.height:
            yield kept
        yield TaggedOutput(UNIQUE_EVENTS, fresh)


class DeduplicateRun(beam.PTransform):
    """Frames that each hold a whole run -> the same frames without repeated or seen
    events, keeping one type per content: outputs `events` (the kept events),
    `UNIQUE_EVENTS`, `DEAD_LETTERS` and `CONTENT_TYPES_DECIDED` (`DropDuplicatesKeepOneType`).

    Local mode reads a run's segments as one element (one worker does all the work), so
    every copy of an event within the run is in one frame and no shuffle is needed: whole
    events never cross Beam's data plane, which cost a third of a run's time when they did
    (encoding, and copying through the runner several times). Across runs, the seen set
    in the ledger catches the copies. Memory: the run's records, about 210 MB per million
    events of the benchmark's player traffic (Polars' estimate), plus its outputs. The
    type of each content is decided in the same step: every step costs Beam tens of
    milliseconds a run, whatever its data.
    """

    def __init__(self, state_db: Path, catalogue_file: Path) -> None:
        super().__init__()
        self.state_db = str(state_db)
        self.catalogue_file = str(catalogue_file)

    def expand(self, frames: beam.PCollection) -> beam.pvalue.DoOutputsTuple:
        # Every output typed, so each gets `FrameCoder`: Beam sizes the elements it counts
        # with their coder, and an untyped output's (pickle) would pickle the whole run.
        return frames | "DropDuplicatesKeepOneType" >> beam.ParDo(
            DropDuplicatesKeepOneType(self.state_db, self.catalogue_file)
        ).with_output_types(
            pl.DataFrame,
            **{tag: pl.DataFrame for tag in (UNIQUE_EVENTS, DEAD_LETTERS, CONTENT_TYPES_DECIDED)},
        ).with_outputs(UNIQUE_EVENTS, DEAD_LETTERS, CONTENT_TYPES_DECIDED, main="events")


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
    AD_PLAYS: merge_ad_plays,
    **{facts.name: facts.merge for facts in viewer_facts.FACT_SETS},
}
"""The merge function of every mergeable output, by lake table name."""


ALL_PARTIALS = (
    *((table.name, table.partial) for table in aggregates.SUM_TABLES),
    (VIEW_SUMMARIES, views.view_partials),
    (AD_PLAYS, ad_play_partials),
    *((facts.name, facts.partial) for facts in viewer_facts.FACT_SETS),
)
"""(table, partial function) of every mergeable output, in the order of `MERGES`: the
`Aggregate` step, the streaming job's combiner and the benchmark's plain-Polars floor
compute exactly these."""


class Aggregate(beam.PTransform):
    """Frames of unique events -> one (table, partial) per mergeable output and frame.

    One step computes every output (`ALL_PARTIALS`): Beam's cost of building and running
    a graph grows with its steps (each inspects its function's signature again and again),
    and in local mode it was a fixed second per run with one step per output. The partials
    stay separate elements, so each lands in its own table.
    """

    def expand(self, frames: beam.PCollection) -> beam.PCollection:
        return frames | "Partials" >> beam.FlatMap(PartialsOf(ALL_PARTIALS)).with_output_types(
            TableFrame
        )
