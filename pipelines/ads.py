"""Ad plays: one mergeable summary per ad played in a view, the grain of every ad metric.

An ad play is one `ad_id` in one ad break (`ad_break_id`) of one view (app, `session_id`).
Its VAST events (impression, quartiles, skip, click) arrive seconds apart, in any batch or
run, and can straddle a minute or a day. The per-minute tables count each event in its
own minute, so a day could hold the quartiles of an impression made the day before and
show a quartile reach above 100 %. Here a play's events merge into one row wherever they
arrive (mins, a sum and bool-ors: a commutative monoid, as the view partials), so every
quartile, skip and click counts with its impression, on the day of the play's first
event; plays seen without an impression stay visible as such
(docs/decisions/0001-ad-quartiles.md).

Schema and merge rules: `marquee.lake.AD_PLAYS_SCHEMA`.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pipelines.aggregates import AD_QUARTILES, collect
from pipelines.records import empty_records

AD_PLAY_KEY = ["app_id", "session_id", "ad_break_id", "ad_id"]
AD_PLAY_ATTRIBUTES = ["content_id", "creator_id", "content_type", "position", "ad_format"]
"""Every event of a play names the same; the merge keeps the greatest (a named value over
an absent one)."""
REACHED = [f"reached_q{quartile}" for quartile in AD_QUARTILES]
FLAGS = [*REACHED, "skipped", "clicked"]
AD_PLAY_COLUMNS = [
    *AD_PLAY_KEY,
    *AD_PLAY_ATTRIBUTES,
    "first_event_ms",
    "impression_ms",
    "impressions",
    *FLAGS,
]
AD_PLAY_EVENT_TYPES = ["ad_impression", "ad_quartile", "ad_skipped", "ad_clicked"]
"""The events of one ad; `ad_break_started` and `ad_break_ended` are the break's."""


def _event_rows(events: pl.LazyFrame) -> pl.LazyFrame:
    """One row per ad event: the summary of a play that saw only that event."""
    type_ = pl.col("type")
    time = pl.col("event_time_ms")
    is_impression = type_ == "ad_impression"
    quartile = pl.when(type_ == "ad_quartile").then(pl.col("quartile"))
    return events.filter(
        type_.is_in(AD_PLAY_EVENT_TYPES) & pl.col("session_id").is_not_null()
    ).select(
        pl.col("app_id").fill_null(""),
        pl.col("session_id"),
        pl.col("ad_break_id").fill_null(""),
        pl.col("ad_id").fill_null(""),
        pl.col("content_id").fill_null(""),
        pl.col("creator_id").fill_null(""),
        pl.col("content_type").fill_null(""),
        pl.col("position"),
        pl.col("ad_format"),
        time.alias("first_event_ms"),
        pl.when(is_impression).then(time).alias("impression_ms"),
        is_impression.cast(pl.Int64).alias("impressions"),
        *(
            (quartile == q).fill_null(False).alias(name)
            for q, name in zip(AD_QUARTILES, REACHED, strict=True)
        ),
        (type_ == "ad_skipped").alias("skipped"),
        (type_ == "ad_clicked").alias("clicked"),
    )


def _merged(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.group_by(AD_PLAY_KEY).agg(
        *(pl.col(name).max() for name in AD_PLAY_ATTRIBUTES),
        pl.col("first_event_ms").min(),
        pl.col("impression_ms").min(),
        pl.col("impressions").sum().cast(pl.Int64),
        *(pl.col(name).any() for name in FLAGS),
    )


def ad_play_partials(events: pl.DataFrame) -> pl.DataFrame:
    """Partial ad plays of one batch of unique events, one row per play seen, unsorted."""
    return collect(_merged(_event_rows(events.lazy())))


def merge_ad_plays(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Merge partial ad plays of any batches, runs or workers, in any order.

    Per play: min of first_event_ms and impression_ms, sum of impressions, bool-or of the
    quartiles reached, skipped and clicked, max of each attribute. Sorted by the key, so
    a merge reads the same whatever the order of its parts. Sums are not idempotent: each
    event is merged once, which the deduplication guarantees.
    """
    non_empty = [part.lazy().select(AD_PLAY_COLUMNS) for part in parts if not part.is_empty()]
    rows = pl.concat(non_empty) if non_empty else _event_rows(empty_records().lazy())
    return collect(_merged(rows).sort(AD_PLAY_KEY))
