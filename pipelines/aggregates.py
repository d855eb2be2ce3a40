"""Columnar computations of the pipeline, as pure functions over Polars frames.

Each output is a mergeable aggregate keyed by its grain: partial results from any batch
merge by summing, in any order. That is what lets the same code run per batch inside Beam
and merge across batches, runs and workers (DESIGN.md, decision 2).
"""

from __future__ import annotations

import polars as pl

from marquee.lake import UNKNOWN_COUNTRY

MINUTE_GRAIN = ["epoch_minute", "content_id", "creator_id", "content_type", "platform", "country"]
MINUTE_MEASURES = [
    "attempts",
    "starts",
    "fatal_errors",
    "played_ms",
    "stalled_ms",
    "stall_count",
    "seek_ms",
    "startup_ms_sum",
]


def deduplicate(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per event_id: the copy received first (ties broken by the rest of the row).

    A retried event may carry a slightly different corrected event time; keeping the
    first-received copy makes the choice the same in every run and order of delivery.
    """
    if frame.is_empty():
        return frame
    ordered = frame.sort(["event_id", "received_at_ms", "event_time_ms"], nulls_last=True)
    return ordered.unique(subset="event_id", keep="first", maintain_order=True)


def minute_aggregates(events: pl.DataFrame) -> pl.DataFrame:
    """Per UTC minute (by event time) x content x platform x country: counts and sums."""
    type_ = pl.col("type")
    content_events = events.filter(pl.col("content_id").is_not_null())
    return (
        content_events.with_columns(
            (pl.col("event_time_ms") // 60_000).alias("epoch_minute"),
            pl.col("country").fill_null(UNKNOWN_COUNTRY),
            pl.col("creator_id").fill_null(""),
            pl.col("content_type").fill_null(""),
        )
        .group_by(MINUTE_GRAIN)
        .agg(
            (type_ == "play_requested").sum().cast(pl.Int64).alias("attempts"),
            (type_ == "playback_started").sum().cast(pl.Int64).alias("starts"),
            ((type_ == "playback_error") & pl.col("fatal").fill_null(False))
            .sum()
            .cast(pl.Int64)
            .alias("fatal_errors"),
            pl.col("played_ms").fill_null(0).sum().cast(pl.Int64),
            pl.col("stalled_ms").fill_null(0).sum().cast(pl.Int64),
            pl.col("stall_count").fill_null(0).sum().cast(pl.Int64),
            pl.col("seek_ms").fill_null(0).sum().cast(pl.Int64),
            pl.when(type_ == "playback_started")
            .then(pl.col("startup_ms").fill_null(0))
            .otherwise(0)
            .sum()
            .cast(pl.Int64)
            .alias("startup_ms_sum"),
        )
    )


def merge_minute_aggregates(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """Merge partial minute aggregates: the same key sums, in any order."""
    non_empty = [part for part in parts if not part.is_empty()]
    if not non_empty:
        return minute_aggregates(pl.DataFrame(schema=_EMPTY_EVENTS_SCHEMA))
    return (
        pl.concat(non_empty)
        .group_by(MINUTE_GRAIN)
        .agg([pl.col(name).sum().cast(pl.Int64) for name in MINUTE_MEASURES])
        .sort(MINUTE_GRAIN)
    )


_EMPTY_EVENTS_SCHEMA = {
    "type": pl.Utf8,
    "event_time_ms": pl.Int64,
    "platform": pl.Utf8,
    "country": pl.Utf8,
    "creator_id": pl.Utf8,
    "content_id": pl.Utf8,
    "content_type": pl.Utf8,
    "startup_ms": pl.Int64,
    "fatal": pl.Boolean,
    "played_ms": pl.Int64,
    "stalled_ms": pl.Int64,
    "stall_count": pl.Int64,
    "seek_ms": pl.Int64,
}
