"""Per-minute aggregates and deduplication, as pure functions over Polars frames.

Each per-minute output is a sum table: a grain (UTC minute by event time, then the keys of
the table) and measures that are counts or sums. Partial results from any batch merge by
summing the measures of the same grain key, in any order, so the same code runs per batch
inside Beam, across batches of a run and (in dbt) across runs and workers (DESIGN.md,
decision 2). Every `*_aggregates(events)` is the merge of one-row-per-event partials, so a
partial and a merge can never disagree.

Tables (schemas and grains in `marquee.lake`):
- `minute_aggregates`: minute x content x platform x country, events about one piece of
  content (player, ad, story, reaction on its target, chat, share);
- `creator_minute_aggregates`: minute x creator x platform x country, follows and unfollows;
- `tip_minute_aggregates`: minute x creator x currency, tips and their amounts;
- `reaction_minute_aggregates`: minute x content x reaction code;
- `impression_minute_aggregates`: minute x content x surface, `content_impression` counts.
Follow, unfollow and tip events name a creator and often no content, so they have their
own creator-level tables rather than an empty content id in `minute_aggregates`.
`live_latency_minute_values` counts live heartbeats per minute, live and latency value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from marquee.lake import (
    CREATOR_MINUTE_AGGREGATES,
    IMPRESSION_MINUTE_AGGREGATES,
    LIVE_LATENCY_MINUTE_VALUES,
    MINUTE_AGGREGATES,
    REACTION_MINUTE_AGGREGATES,
    STARTUP_BUCKET_EDGES_MS,
    TIP_MINUTE_AGGREGATES,
    UNKNOWN_COUNTRY,
    startup_bucket_columns,
)
from pipelines.records import empty_records

MINUTE_MS = 60_000

MINUTE_GRAIN = ["epoch_minute", "content_id", "creator_id", "content_type", "platform", "country"]
STARTUP_BUCKETS = startup_bucket_columns()
STORY_ACTIONS = ["tap_forward", "tap_back", "tap_exit", "swipe_forward"]
AD_QUARTILES = [25, 50, 75, 100]
MINUTE_MEASURES = [
    "attempts",
    "starts",
    "fatal_errors",
    "played_ms",
    "stalled_ms",
    "stall_count",
    "seek_ms",
    "startup_ms_sum",
    *STARTUP_BUCKETS,
    "story_views",
    "story_completions",
    *(f"story_{action}" for action in STORY_ACTIONS),
    "reactions",
    "chat_messages",
    "shares",
    "ad_impressions",
    *(f"ad_q{quartile}" for quartile in AD_QUARTILES),
    "ad_skips",
    "ad_clicks",
    "bitrate_weighted",
]

CREATOR_EVENT_TYPES = ["follow", "unfollow", "tip"]
"""Events about a creator rather than a piece of content: not in `minute_aggregates`."""

NOT_MINUTE_EVENT_TYPES = [*CREATOR_EVENT_TYPES, "content_impression"]
"""Not in `minute_aggregates`: creator events, and impressions, which are counted per
surface in `impression_minute_aggregates` and would only add rows of zeros here."""

CREATOR_MINUTE_GRAIN = ["epoch_minute", "creator_id", "platform", "country"]
CREATOR_MINUTE_MEASURES = ["follows", "unfollows"]
TIP_MINUTE_GRAIN = ["epoch_minute", "creator_id", "currency"]
TIP_MINUTE_MEASURES = ["tips", "tips_amount_minor"]
REACTION_MINUTE_GRAIN = ["epoch_minute", "content_id", "creator_id", "content_type", "reaction"]
REACTION_MINUTE_MEASURES = ["reactions"]
IMPRESSION_MINUTE_GRAIN = ["epoch_minute", "content_id", "creator_id", "content_type", "surface"]
IMPRESSION_MINUTE_MEASURES = ["impressions"]


def deduplicate(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per event_id: the copy received first (ties broken by the corrected event time).

    A retried event may carry a slightly different corrected event time; keeping the
    first-received copy makes the choice the same in every run and order of delivery.
    Duplicates are rare, so only the rows whose id repeats are sorted: sorting every row by
    its id string cost more than the whole per-minute aggregation.
    """
    if frame.is_empty():
        return frame
    # Rows whose id's 64-bit hash repeats: every repeated id's does, and hashing then
    # comparing integers cost a quarter of comparing the 36-character ids. An id that only
    # shares its hash with another is kept by `unique` below like any id seen once.
    repeated = frame.select(pl.col("event_id").hash().is_duplicated()).to_series()
    if not repeated.any():
        return frame
    copies = (
        frame.select("event_id", "received_at_ms", "event_time_ms")
        .with_row_index("row")
        .filter(repeated)
        .sort(["event_id", "received_at_ms", "event_time_ms"], nulls_last=True)
    )
    first = copies.unique(subset="event_id", keep="first", maintain_order=True)["row"]
    # One filter of the whole frame: copying every column twice (the unrepeated rows, then
    # the first copies) and concatenating cost half of the deduplication.
    return frame.filter(repeated.not_().scatter(first, True))


def _count(condition: pl.Expr) -> pl.Expr:
    """1 where the condition holds, else 0 (null counts as false).

    One byte per event: the per-event rows of the minute table have some forty counts, and
    moving them as 64-bit integers cost a fifth of its time. Sums are 64-bit (`merge`).
    """
    return condition.fill_null(False).cast(pl.UInt8)


def _epoch_minute() -> pl.Expr:
    return (pl.col("event_time_ms") // MINUTE_MS).alias("epoch_minute")


def _minute_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    """One row per content event: its minute-grain key and its contribution to each measure.

    A reaction counts on its target (`target_id`, `target_type`), which is the content it
    reacts to even when the event names none.
    """
    type_ = pl.col("type")
    is_reaction = type_ == "reaction_added"
    is_start = type_ == "playback_started"
    startup = pl.col("startup_ms")
    uppers: list[int | None] = [*STARTUP_BUCKET_EDGES_MS[1:], None]
    buckets = [
        _count(is_start & (startup >= lower) & (startup < upper if upper else pl.lit(True)))
        for lower, upper in zip(STARTUP_BUCKET_EDGES_MS, uppers, strict=True)
    ]
    content_events = events.with_columns(
        pl.when(is_reaction)
        .then(pl.coalesce("target_id", "content_id"))
        .otherwise(pl.col("content_id"))
        .alias("content_id"),
        pl.when(is_reaction)
        .then(pl.coalesce("target_type", "content_type"))
        .otherwise(pl.col("content_type"))
        .alias("content_type"),
    ).filter(pl.col("content_id").is_not_null() & ~type_.is_in(NOT_MINUTE_EVENT_TYPES))
    quartile = pl.col("quartile")
    action = pl.col("action")
    return content_events.select(
        _epoch_minute(),
        pl.col("content_id"),
        pl.col("creator_id").fill_null(""),
        pl.col("content_type").fill_null(""),
        pl.col("platform"),
        pl.col("country").fill_null(UNKNOWN_COUNTRY),
        _count(type_ == "play_requested").alias("attempts"),
        _count(is_start).alias("starts"),
        _count((type_ == "playback_error") & pl.col("fatal")).alias("fatal_errors"),
        pl.col("played_ms").fill_null(0),
        pl.col("stalled_ms").fill_null(0),
        pl.col("stall_count").fill_null(0),
        pl.col("seek_ms").fill_null(0),
        pl.when(is_start).then(startup.fill_null(0)).otherwise(0).alias("startup_ms_sum"),
        *(bucket.alias(name) for bucket, name in zip(buckets, STARTUP_BUCKETS, strict=True)),
        _count(type_ == "story_viewed").alias("story_views"),
        _count(type_ == "story_completed").alias("story_completions"),
        *(
            _count((type_ == "story_navigated") & (action == name)).alias(f"story_{name}")
            for name in STORY_ACTIONS
        ),
        _count(is_reaction).alias("reactions"),
        _count(type_ == "chat_message").alias("chat_messages"),
        _count(type_ == "share").alias("shares"),
        _count(type_ == "ad_impression").alias("ad_impressions"),
        *(
            _count((type_ == "ad_quartile") & (quartile == q)).alias(f"ad_q{q}")
            for q in AD_QUARTILES
        ),
        _count(type_ == "ad_skipped").alias("ad_skips"),
        _count(type_ == "ad_clicked").alias("ad_clicks"),
        (pl.col("bitrate_kbps") * pl.col("played_ms")).fill_null(0).alias("bitrate_weighted"),
    )


def _creator_minute_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    type_ = pl.col("type")
    return events.filter(
        type_.is_in(["follow", "unfollow"]) & pl.col("creator_id").is_not_null()
    ).select(
        _epoch_minute(),
        pl.col("creator_id"),
        pl.col("platform"),
        pl.col("country").fill_null(UNKNOWN_COUNTRY),
        _count(type_ == "follow").alias("follows"),
        _count(type_ == "unfollow").alias("unfollows"),
    )


def _tip_minute_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    return events.filter((pl.col("type") == "tip") & pl.col("creator_id").is_not_null()).select(
        _epoch_minute(),
        pl.col("creator_id"),
        pl.col("currency").fill_null(""),
        pl.lit(1, dtype=pl.Int64).alias("tips"),
        pl.col("amount_minor").fill_null(0).alias("tips_amount_minor"),
    )


def _reaction_minute_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    return events.filter(
        (pl.col("type") == "reaction_added") & pl.col("target_id").is_not_null()
    ).select(
        _epoch_minute(),
        pl.col("target_id").alias("content_id"),
        pl.col("creator_id").fill_null(""),
        pl.coalesce("target_type", "content_type").fill_null("").alias("content_type"),
        pl.col("reaction").fill_null(""),
        pl.lit(1, dtype=pl.Int64).alias("reactions"),
    )


def _impression_minute_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    return events.filter(
        (pl.col("type") == "content_impression") & pl.col("content_id").is_not_null()
    ).select(
        _epoch_minute(),
        pl.col("content_id"),
        pl.col("creator_id").fill_null(""),
        pl.col("content_type").fill_null(""),
        pl.col("surface").fill_null(""),
        pl.lit(1, dtype=pl.Int64).alias("impressions"),
    )


def _live_latency_event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    """Live heartbeats that carry `live_latency_ms`: one row each, counted by value."""
    return events.filter(
        (pl.col("type") == "heartbeat")
        & (pl.col("content_type") == "live")
        & pl.col("live_latency_ms").is_not_null()
        & pl.col("content_id").is_not_null()
    ).select(
        _epoch_minute(),
        pl.col("content_id"),
        pl.col("creator_id").fill_null(""),
        pl.col("content_type"),
        pl.col("live_latency_ms"),
        pl.lit(1, dtype=pl.Int64).alias("heartbeats"),
    )


def collect(query: pl.LazyFrame) -> pl.DataFrame:
    """Run a query on Polars' in-memory engine, the one place every output's query runs.

    On one core it costs less than the streaming engine for a run's partials (Polars 2.1;
    docs/decisions/0004, "Measurements behind the code"): measure again on upgrades.
    """
    return query.collect()


@dataclass(frozen=True)
class SumTable:
    """A per-minute lake table: grain columns, summed measures, and per-event rows."""

    name: str
    grain: list[str]
    measures: list[str]
    event_rows: Callable[[pl.LazyFrame], pl.LazyFrame]

    def partial(self, events: pl.DataFrame) -> pl.DataFrame:
        """The table's rows for a batch of unique events (a partial of the run's table).

        Rows come in no particular order: a partial is landed or merged, never read in
        order, and sorting a run's rows by the grain's strings cost as much as summing them.
        """
        return collect(self._summed(self.event_rows(events.lazy())))

    def merge(self, parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
        """Merge partials: the same grain key sums its measures, in any order.

        Sorted by the grain, so a merge reads the same whatever the order of its parts.
        """
        non_empty = [part.lazy() for part in parts if not part.is_empty()]
        rows = pl.concat(non_empty) if non_empty else self.event_rows(empty_records().lazy())
        return collect(self._summed(rows).sort(self.grain))

    def _summed(self, rows: pl.LazyFrame) -> pl.LazyFrame:
        return rows.group_by(self.grain).agg(
            [pl.col(name).sum().cast(pl.Int64) for name in self.measures]
        )


MINUTES = SumTable(MINUTE_AGGREGATES, MINUTE_GRAIN, MINUTE_MEASURES, _minute_event_rows)
CREATOR_MINUTES = SumTable(
    CREATOR_MINUTE_AGGREGATES,
    CREATOR_MINUTE_GRAIN,
    CREATOR_MINUTE_MEASURES,
    _creator_minute_event_rows,
)
TIP_MINUTES = SumTable(
    TIP_MINUTE_AGGREGATES, TIP_MINUTE_GRAIN, TIP_MINUTE_MEASURES, _tip_minute_event_rows
)
REACTION_MINUTES = SumTable(
    REACTION_MINUTE_AGGREGATES,
    REACTION_MINUTE_GRAIN,
    REACTION_MINUTE_MEASURES,
    _reaction_minute_event_rows,
)
IMPRESSION_MINUTES = SumTable(
    IMPRESSION_MINUTE_AGGREGATES,
    IMPRESSION_MINUTE_GRAIN,
    IMPRESSION_MINUTE_MEASURES,
    _impression_minute_event_rows,
)
ENGAGEMENT_TABLES = [CREATOR_MINUTES, TIP_MINUTES, REACTION_MINUTES, IMPRESSION_MINUTES]
LIVE_LATENCY_MINUTES = SumTable(
    LIVE_LATENCY_MINUTE_VALUES,
    ["epoch_minute", "content_id", "creator_id", "content_type", "live_latency_ms"],
    ["heartbeats"],
    _live_latency_event_rows,
)
"""Exact latency percentiles need every value; counting heartbeats per distinct value keeps
them all as a sum table, so dedup, late data and both modes treat them like any count."""
SUM_TABLES = [MINUTES, *ENGAGEMENT_TABLES, LIVE_LATENCY_MINUTES]


def minute_aggregates(events: pl.DataFrame) -> pl.DataFrame:
    """Per UTC minute (by event time) x content x platform x country: counts and sums."""
    return MINUTES.partial(events)
