"""Viewer-level facts: set-like tables of pseudonymised viewers, merged by union.

Distinct counts (story reach, chatters, unique viewers per creator and day) and
viewer-level rules (a reaction is valid only as the viewer's first on the story and before
it expires; story-to-live conversion within 24 h) cannot be summed from per-minute counts.
These tables keep the facts they need, at the grain of one viewer: rows are distinct facts,
and the merge of partials from any batch, run or worker is a union of distinct rows, which
is commutative, associative and idempotent (a replayed batch changes nothing).

Where readers only need the first time of a fact (first_viewed_ms, first_play_ms), a
partial keeps only its earliest row per (key, fact), and so does the merge: dropping later
rows is safe because every reader takes the minimum. Reactions keep every distinct time,
since the second reaction of a viewer is what makes it invalid.

Only `viewer_key` (the keyed hash of the app's viewer id) is stored, never a raw id; an
erasure deletes a viewer's rows by that key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from marquee.lake import CREATOR_VIEWER_DAYS, LIVE_VIEWER_FACTS, STORY_VIEWER_FACTS
from pipelines.aggregates import collect
from pipelines.records import empty_records

DAY_MS = 86_400_000
STORY_TYPES = ["story_viewed", "story_navigated", "story_completed"]
ENGAGEMENT_TYPES = ["reaction_added", "chat_message", "share", "follow", "unfollow", "tip"]


def _story_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    type_ = pl.col("type")
    is_reaction = (type_ == "reaction_added") & (pl.col("target_type") == "story")
    return (
        events.filter(type_.is_in(["story_viewed", "story_completed"]) | is_reaction)
        .select(
            pl.when(is_reaction)
            .then(pl.col("target_id"))
            .when(type_ == "story_viewed")
            .then(pl.coalesce("story_id", "content_id"))
            .otherwise(pl.col("content_id"))
            .alias("story_id"),
            pl.col("viewer_key"),
            pl.when(is_reaction)
            .then(pl.lit("reacted"))
            .when(type_ == "story_viewed")
            .then(pl.lit("viewed"))
            .otherwise(pl.lit("completed"))
            .alias("fact"),
            pl.col("event_time_ms").alias("at_ms"),
            pl.when(is_reaction)
            .then(pl.col("reaction").fill_null(""))
            .otherwise(pl.lit(""))
            .alias("reaction"),
        )
        .drop_nulls(["story_id", "viewer_key"])
    )


def _live_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    type_ = pl.col("type")
    fact = (
        pl.when(type_ == "play_requested")
        .then(pl.lit("requested"))
        .when(type_ == "playback_started")
        .then(pl.lit("started"))
        .when(type_ == "chat_message")
        .then(pl.lit("chatted"))
    )
    return (
        events.filter((pl.col("content_type") == "live") & fact.is_not_null())
        .select(
            pl.when(type_ == "chat_message")
            .then(pl.coalesce("live_id", "content_id"))
            .otherwise(pl.col("content_id"))
            .alias("live_id"),
            pl.col("viewer_key"),
            fact.alias("fact"),
            pl.col("event_time_ms").alias("at_ms"),
        )
        .drop_nulls(["live_id", "viewer_key"])
    )


def _creator_day_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    type_ = pl.col("type")
    return (
        events.filter(pl.col("creator_id").is_not_null() & pl.col("viewer_key").is_not_null())
        .select(
            pl.col("creator_id"),
            pl.col("viewer_key"),
            (pl.col("event_time_ms") // DAY_MS).cast(pl.Int32).cast(pl.Date).alias("day"),
            pl.when(pl.col("session_id").is_not_null())
            .then(pl.lit("view"))
            .when(type_.is_in(STORY_TYPES))
            .then(pl.lit("story"))
            .when(type_.is_in(ENGAGEMENT_TYPES))
            .then(pl.lit("engagement"))
            .alias("activity"),
        )
        .drop_nulls("activity")
    )


@dataclass(frozen=True)
class FactSet:
    """A set-like lake table: distinct fact rows, some compacted to their first time."""

    name: str
    columns: list[str]
    event_rows: Callable[[pl.LazyFrame], pl.LazyFrame]
    first_time_facts: tuple[str, ...] = ()
    """Facts (values of column `fact`) of which only the earliest `at_ms` per key matters."""

    def partial(self, events: pl.DataFrame) -> pl.DataFrame:
        """The facts of one batch of unique events, in no particular order."""
        return collect(self._distinct(self.event_rows(events.lazy())))

    def merge(self, parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
        """Union of distinct rows; a first-time fact keeps only its earliest row per key.

        Sorted, so a merge reads the same whatever the order of its parts.
        """
        non_empty = [part.lazy().select(self.columns) for part in parts if not part.is_empty()]
        union = pl.concat(non_empty) if non_empty else self.event_rows(empty_records().lazy())
        return collect(self._distinct(union).sort(self.columns))

    def _distinct(self, union: pl.LazyFrame) -> pl.LazyFrame:
        if self.first_time_facts:
            first = pl.col("fact").is_in(list(self.first_time_facts))
            keys = [name for name in self.columns if name != "at_ms"]
            union = pl.concat(
                [
                    union.filter(first).group_by(keys).agg(pl.col("at_ms").min()),
                    union.filter(~first),
                ],
                how="diagonal",
            )
        return union.select(self.columns).unique()


STORY_VIEWERS = FactSet(
    STORY_VIEWER_FACTS,
    ["story_id", "viewer_key", "fact", "at_ms", "reaction"],
    _story_event_rows,
    first_time_facts=("viewed", "completed"),
)
LIVE_VIEWERS = FactSet(
    LIVE_VIEWER_FACTS,
    ["live_id", "viewer_key", "fact", "at_ms"],
    _live_event_rows,
    first_time_facts=("requested", "started", "chatted"),
)
CREATOR_VIEWER_DAY_SET = FactSet(
    CREATOR_VIEWER_DAYS, ["creator_id", "viewer_key", "day", "activity"], _creator_day_event_rows
)
FACT_SETS = [STORY_VIEWERS, LIVE_VIEWERS, CREATOR_VIEWER_DAY_SET]
