"""A content's type, decided once: the catalogue's, else the type its first event gave.

Every event about a piece of content names its type (`content_type`, or `target_type` on
a reaction). Downstream, a content has one type: the per-type marts and their rules
(stories, live sessions, completion over VOD, clips and stories) would otherwise count
one id as a VOD in one place and as a story in another, and a build would stop on the
contradiction. So the pipeline decides each content's type once and sets aside the events
that name another one as dead letters with the reason `content_type_conflict`.

The decision, per content id: the catalogue's type when the catalogue holds the content
(the app's system of record), else the type already recorded for it (`content_types` in
the pipeline's state file), else the type of its first event in this run (least
`received_at_ms`, then event time, then event id: the same in every redo of the run).
Types first recorded by a run are committed with the run (`Ledger.commit`), so a redo
after a crash decides as the first attempt did.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import polars as pl

from pipelines.ledger import connect_with_retry

CONTENT_TYPES = ("live", "vod", "clip", "story")
RECORDED_SCHEMA = {"content_id": pl.Utf8, "content_type": pl.Utf8}


def _named_content() -> tuple[pl.Expr, pl.Expr]:
    """The content an event is about and the type it names: a reaction's target, else
    its content."""
    is_reaction = pl.col("type") == "reaction_added"
    content_id = pl.when(is_reaction).then(pl.col("target_id")).otherwise(pl.col("content_id"))
    content_type = (
        pl.when(is_reaction).then(pl.col("target_type")).otherwise(pl.col("content_type"))
    )
    return content_id.alias("content_id"), content_type.alias("content_type")


def named_types(events: pl.DataFrame) -> pl.DataFrame:
    """Each (content id, type) pair the events name, once."""
    # Each kind of event's pairs are made distinct apart: choosing between content and
    # target per row (`_named_content`) would build two string columns of every event.
    is_reaction = pl.col("type") == "reaction_added"
    frames = events.lazy()
    return (
        pl.concat(
            [
                frames.filter(~is_reaction).select("content_id", "content_type").unique(),
                frames.filter(is_reaction).select(
                    pl.col("target_id").alias("content_id"),
                    pl.col("target_type").alias("content_type"),
                ),
            ]
        )
        .drop_nulls()
        .unique()
        .collect()
    )


def first_types(events: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The type of the first event (by received_at_ms, event time, event id) of each
    content in `pairs` (content_id, content_type).

    A content named with one type only has that type first; only the rows of contents
    named with several types are sorted.
    """
    types_named = pairs.group_by("content_id").agg(pl.len().alias("types"))
    single = pairs.join(types_named.filter(pl.col("types") == 1), on="content_id", how="semi")
    several = types_named.filter(pl.col("types") > 1)["content_id"]
    if several.is_empty():
        return single.select(RECORDED_SCHEMA.keys())
    content_id, content_type = _named_content()
    first_of_several = (
        events.select(content_id, content_type, "received_at_ms", "event_time_ms", "event_id")
        .filter(pl.col("content_id").is_in(several.implode()))
        .filter(pl.col("content_type").is_not_null())
        .sort(["received_at_ms", "event_time_ms", "event_id"], nulls_last=True)
        .unique(subset="content_id", keep="first", maintain_order=True)
    )
    return pl.concat(
        [single.select(RECORDED_SCHEMA.keys()), first_of_several.select(RECORDED_SCHEMA.keys())]
    )


def decide(
    events: pl.DataFrame, pairs: pl.DataFrame, known: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(events that agree with their content's type, conflicting events, new decisions).

    `pairs` are the (content id, type) pairs the events name (`named_types`); `known`
    holds the decided type of contents the catalogue or earlier runs know (content_id,
    content_type); the new decisions are those of contents it lacks. Most runs name each
    content with one type that agrees, and then return the events as they are.
    """
    undecided = pairs.join(known, on="content_id", how="anti")
    new = first_types(events, undecided)
    decided = pl.concat([known.select(RECORDED_SCHEMA.keys()), new])
    conflicting = pairs.join(decided, on="content_id", suffix="_decided").filter(
        pl.col("content_type") != pl.col("content_type_decided")
    )
    if conflicting.is_empty():
        return events, events.clear(), new
    content_id, content_type = _named_content()
    is_conflict = (
        events.select(content_id, content_type)
        .join(
            conflicting.select("content_id", "content_type").with_columns(
                pl.lit(True).alias("conflict")
            ),
            on=["content_id", "content_type"],
            how="left",
            maintain_order="left",
        )["conflict"]
        .fill_null(False)
    )
    return events.filter(~is_conflict), events.filter(is_conflict), new


class CatalogueTypes:
    """The catalogue file's content types, read again only when the file changes."""

    def __init__(self, content_file: Path) -> None:
        self.content_file = content_file
        self._stamp: tuple[int, int] | None = None
        self._types = pl.DataFrame(schema=RECORDED_SCHEMA)

    def current(self) -> pl.DataFrame:
        try:
            stat = self.content_file.stat()
        except FileNotFoundError:
            return pl.DataFrame(schema=RECORDED_SCHEMA)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._types = _catalogue_types(self.content_file.read_bytes())
            self._stamp = stamp
        return self._types


class _Content(msgspec.Struct):
    content_id: str | None = None
    content_type: str | None = None


def _catalogue_types(data: bytes) -> pl.DataFrame:
    """content_id -> content_type of a catalogue file (records without either are left
    out; the API's catalogue endpoint validates the types)."""
    try:
        records = msgspec.json.decode(data, type=list[_Content])
    except msgspec.DecodeError:
        return pl.DataFrame(schema=RECORDED_SCHEMA)
    rows = {
        record.content_id: record.content_type
        for record in records
        if record.content_id and record.content_type in CONTENT_TYPES
    }
    return pl.DataFrame(
        {"content_id": list(rows), "content_type": list(rows.values())}, schema=RECORDED_SCHEMA
    )


def recorded_types(state_db: Path, content_ids: pl.Series) -> pl.DataFrame:
    """The types earlier runs recorded for these contents (the state file's
    `content_types`)."""
    if content_ids.is_empty() or not state_db.exists():
        return pl.DataFrame(schema=RECORDED_SCHEMA)
    batch = pl.DataFrame({"content_id": content_ids}).to_arrow()
    with connect_with_retry(state_db, read_only=False) as conn:
        conn.register("run_contents", batch)
        return conn.sql(
            "select t.content_id, t.content_type from content_types t "
            "semi join run_contents r on r.content_id = t.content_id"
        ).pl()


def known_types(catalogue: pl.DataFrame, state_db: Path, content_ids: pl.Series) -> pl.DataFrame:
    """The decided type of each of these contents that the catalogue or an earlier run
    knows: the catalogue's first."""
    in_catalogue = catalogue.filter(pl.col("content_id").is_in(content_ids.implode()))
    others = content_ids.filter(~content_ids.is_in(in_catalogue["content_id"].implode()))
    return pl.concat([in_catalogue, recorded_types(state_db, others)])
