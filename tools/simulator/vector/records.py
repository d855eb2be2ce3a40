"""Events as JSON, in bulk: the text a client sends, and the record the API logs for it.

Both are built by polars string expressions over whole frames, from the event contract
itself: the fields of each event type, their order and their defaults are read from the
msgspec structs of `marquee.events` (what the API encodes a validated event with), so a
record is byte for byte what `Enricher.encode_batch` writes: the event as validated, with
defaults left out, `viewer_id` replaced by `viewer_key` (the data directory's keyed
pseudonym), `ts` re-encoded as msgspec encodes the datetime it decoded (or the epoch
milliseconds an Android app sent), and `event_time_ms`, `client_ts_ms`, `received_at_ms`
and `app_id` appended. `tools.history.shard` checks that claim on a sample of every
batch against the API's own `ingest_events`.
"""

from __future__ import annotations

import functools
import graphlib
import typing

import msgspec
import numpy as np
import polars as pl

from marquee.events import Event, EventBase
from tools.simulator.vector.pieces import CREATOR_ONLY_TYPES
from tools.simulator.vector.population import Titles, Viewers

_ENVELOPE = frozenset(f.name for f in msgspec.structs.fields(EventBase))
"""Envelope fields (written from the viewer, title and session columns). Those of
`EventBase`: the first event struct's own fields would count as envelope too (they left
`play_requested`'s `autoplay` and `surface` out of every record)."""
_COLUMN_OF = {"position": {"story_viewed": "story_position"}}
"""Fields whose generated column is named differently (types disagree on `position`)."""


@functools.cache
def type_fields() -> dict[str, tuple[tuple[str, str, object], ...]]:
    """Per event type, its own fields in encoding order: (JSON name, column, default)."""
    out: dict[str, tuple[tuple[str, str, object], ...]] = {}
    for cls in typing.get_args(Event):
        tag = str(cls.__struct_config__.tag)
        fields = []
        for f in msgspec.structs.fields(cls):
            if f.name in _ENVELOPE:
                continue
            column = _COLUMN_OF.get(f.encode_name, {}).get(tag, f.encode_name)
            if f.encode_name == "position" and tag != "story_viewed":
                column = "ad_position"
            default = None if f.default is msgspec.NODEFAULT else f.default
            fields.append((f.encode_name, column, default))
        out[tag] = tuple(fields)
    return out


def _field(name: str, column: str, default: object, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(column)
    if dtype == pl.Boolean:
        text = pl.when(col).then(pl.lit(f',"{name}":true')).otherwise(pl.lit(f',"{name}":false'))
    elif dtype == pl.String:
        text = pl.concat_str([pl.lit(f',"{name}":"'), col, pl.lit('"')])
    else:
        text = pl.concat_str([pl.lit(f',"{name}":'), col.cast(pl.Int64).cast(pl.String)])
    keep = col.is_not_null()
    if default is not None:
        keep = keep & (col != pl.lit(default))
    return pl.when(keep).then(text)


def _ts(raw: bool) -> pl.Expr:
    """`ts` as the client sent it (raw) or as msgspec re-encodes the decoded value."""
    t = pl.col("t")
    moment = pl.from_epoch(t, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S")
    millis = (t % 1000).cast(pl.String).str.zfill(3)
    if raw:
        text = pl.concat_str([pl.lit('"'), moment, pl.lit("."), millis, pl.lit('Z"')])
    else:
        fraction = (
            pl.when(t % 1000 == 0)
            .then(pl.lit(""))
            .otherwise(pl.concat_str([pl.lit("."), millis, pl.lit("000")]))
        )
        text = pl.concat_str([pl.lit('"'), moment, fraction, pl.lit('Z"')])
    return pl.when(pl.col("epoch_ts")).then(t.cast(pl.String)).otherwise(text)


@functools.cache
def field_order() -> tuple[tuple[str, str, object], ...]:
    """Every type's own fields in one order that agrees with each type's encoding order.

    Columns a type does not have are null in its rows and left out, so one expression
    over this order writes every type's fields (no split by type). Fails at import if
    two types order or default a shared field differently.
    """
    graph: dict[str, set[str]] = {}
    spec: dict[str, tuple[str, str, object]] = {}
    for fields in type_fields().values():
        for index, (name, column, default) in enumerate(fields):
            if spec.setdefault(column, (name, column, default)) != (name, column, default):
                raise ValueError(f"field {column} differs between event types")
            graph.setdefault(column, set())
            if index:
                graph[column].add(fields[index - 1][1])
    return tuple(spec[column] for column in graphlib.TopologicalSorter(graph).static_order())


class Names:
    """The text columns events are written with: viewer ids and envelopes by viewer index,
    creator and title JSON by title index (built once per audience and catalogue)."""

    def __init__(self, audience: Viewers, catalogue: Titles) -> None:
        def text(values: np.ndarray) -> pl.Series:
            return pl.Series(values.tolist(), dtype=pl.String)  # numpy str arrays convert slowly

        self.viewer_id = text(audience.viewer_id)
        self.envelope = text(audience.envelope)
        self.epoch_ts = pl.Series(audience.epoch_ts)
        self.fragment = text(catalogue.fragment)
        self.creator_fragment = text(catalogue.creator_fragment[catalogue.creator])

    def name(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Adds `viewer_id`, `envelope`, `epoch_ts` and `about` (creator and title JSON; the
        creator alone for the creator-only types) to planned events."""
        viewer, title = frame["viewer"], frame["title"]
        about = pl.select(
            pl.when(frame["type"].is_in(list(CREATOR_ONLY_TYPES)))
            .then(self.creator_fragment.gather(title))
            .otherwise(self.fragment.gather(title))
        ).to_series()
        return frame.with_columns(
            viewer_id=self.viewer_id.gather(viewer),
            envelope=self.envelope.gather(viewer),
            epoch_ts=self.epoch_ts.gather(viewer),
            about=about,
        )


def _with_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """`_head` (type and event id) and `_body` (envelope, names, session, type fields)."""
    fields = [
        _field(name, column, default, frame.schema[column])
        for name, column, default in field_order()
        if column in frame.columns
    ]
    session = [
        pl.when(pl.col("session_id").is_not_null()).then(
            pl.concat_str([pl.lit(',"session_id":"'), pl.col("session_id"), pl.lit('"')])
        ),
        pl.when(pl.col("seq").is_not_null()).then(
            pl.concat_str([pl.lit(',"seq":'), pl.col("seq").cast(pl.String)])
        ),
    ]
    head = pl.concat_str(
        [pl.lit('{"type":"'), pl.col("type"), pl.lit('","event_id":"'), pl.col("event_id")]
    )
    return frame.with_columns(
        pl.concat_str(
            [pl.col("envelope"), pl.col("about"), *session, *fields], ignore_nulls=True
        ).alias("_body"),
        head.alias("_head"),
    )


def _client() -> pl.Expr:
    """`raw` from the parts: the event as the client sends it."""
    return pl.concat_str(
        [pl.col("_head"), pl.lit('","ts":'), _ts(True), pl.lit(',"viewer_id":"'),
         pl.col("viewer_id"), pl.lit('"'), pl.col("_body"), pl.lit("}")]
    ).alias("raw")  # fmt: skip


def client_json(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds `raw`, the JSON a client sends, to every row of named events (`Names.name`)
    with their `event_id`, `session_id`, `seq` and type fields."""
    frame = _with_parts(frame)
    return frame.with_columns(_client()).drop("_body", "_head")


def with_json(frame: pl.DataFrame, app_id: str) -> pl.DataFrame:
    """Adds `raw` (the client's JSON) and `record` (the log record) to every row.

    Needs what `client_json` needs, and `viewer_key` and `received_at_ms`.
    """
    suffix = f',"app_id":{msgspec.json.encode(app_id).decode()}}}'
    t = pl.col("t").cast(pl.String)
    frame = _with_parts(frame)
    return frame.with_columns(
        _client(),
        pl.concat_str(
            [pl.col("_head"), pl.lit('","ts":'), _ts(False), pl.lit(',"viewer_key":"'),
             pl.col("viewer_key"), pl.lit('"'), pl.col("_body"), pl.lit(',"event_time_ms":'),
             t, pl.lit(',"client_ts_ms":'), t, pl.lit(',"received_at_ms":'),
             pl.col("received_at_ms").cast(pl.String), pl.lit(suffix)]
        ).alias("record"),
    ).drop("_body", "_head")  # fmt: skip
