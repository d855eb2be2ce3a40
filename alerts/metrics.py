"""The alert metrics, computed as METRICS.md defines them, from the lake's minute-level rows.

Two inputs, both polars frames the reader (`alerts.reader`) keeps for the recent past:

- views: `view_summaries` partials merged per view (`merge_views`: the lake's merge rule,
  `marquee.lake.VIEW_SUMMARIES_SCHEMA`). A view belongs to the minute of its start
  (`play_requested`, else its first event). Playback failure % = failed views / views; VSF % =
  failed and not started / views; rebuffer % = stalled / watched over started views
  (watched = startup + played + stalled + seek); startup p95 by linear interpolation over
  started views;
- minutes: `minute_aggregates` rows. Average concurrent viewers of a minute = (played_ms +
  stalled_ms) / 60000; event volume = the events the minute tables count (play requests,
  starts, fatal errors, story, reaction, chat, share and ad events; heartbeats are counted as
  time, not events), per minute.
"""

from __future__ import annotations

import polars as pl

from marquee.lake import MINUTE_ADDED_MEASURES, startup_bucket_columns

MINUTE_MS = 60_000

VIEW_COLUMNS = [
    "app_id",
    "session_id",
    "first_event_ms",
    "last_event_ms",
    "play_requested_ms",
    "content_id",
    "creator_id",
    "content_type",
    "platform",
    "started",
    "started_at_ms",
    "startup_ms",
    "played_ms",
    "stalled_ms",
    "seek_ms",
    "failed",
]
"""The `view_summaries` columns the view metrics read."""

COUNTED_EVENTS = [
    "attempts",
    "starts",
    "fatal_errors",
    *(
        name
        for name in MINUTE_ADDED_MEASURES
        if name not in startup_bucket_columns() and name != "bitrate_weighted"
    ),
]
"""The `minute_aggregates` counts that add up to the event volume."""

MINUTE_COLUMNS = [
    "epoch_minute",
    "content_id",
    "creator_id",
    "content_type",
    "platform",
    "played_ms",
    "stalled_ms",
]
"""The other `minute_aggregates` columns the minute metrics read."""


def merge_views(partials: pl.DataFrame) -> pl.DataFrame:
    """One row per view (app x session) from partial rows of several runs, or from already
    merged rows (the merge is associative), with `start_ms` the view's start."""
    first = pl.col("first_event_ms")
    earliest_start = pl.col("started_at_ms") == pl.col("started_at_ms").min()
    merged = partials.group_by("app_id", "session_id").agg(
        first.min().alias("first_event_ms"),
        pl.col("last_event_ms").max(),
        pl.col("play_requested_ms").min(),
        *(
            pl.col(name).sort_by(first).first()
            for name in ("content_id", "creator_id", "content_type", "platform")
        ),
        pl.col("started").any(),
        pl.col("started_at_ms").min(),
        pl.col("startup_ms").filter(earliest_start).min(),
        pl.col("played_ms").sum(),
        pl.col("stalled_ms").sum(),
        pl.col("seek_ms").sum(),
        pl.col("failed").any(),
    )
    return merged.with_columns(pl.coalesce("play_requested_ms", "first_event_ms").alias("start_ms"))


def view_metrics(views: pl.DataFrame, scope_column: str | None) -> pl.DataFrame:
    """Per scope value (`scope_value`; "all" without a scope column): views and every view
    metric over the given merged views. A metric without a defined value (no started view,
    no watch time) is null."""
    started = pl.col("started")
    watched = (
        pl.col("startup_ms").fill_null(0) + pl.col("played_ms") + pl.col("stalled_ms")
        + pl.col("seek_ms")
    )  # fmt: skip
    key = pl.col(scope_column) if scope_column else pl.lit("all")
    watched_started = watched.filter(started).sum()
    return (
        views.with_columns(key.alias("scope_value"))
        .group_by("scope_value")
        .agg(
            pl.len().alias("views"),
            (100.0 * pl.col("failed").sum() / pl.len()).alias("playback_failure_pct"),
            (100.0 * (pl.col("failed") & ~started).sum() / pl.len()).alias("vsf_pct"),
            pl.when(watched_started > 0)
            .then(100.0 * pl.col("stalled_ms").filter(started).sum() / watched_started)
            .otherwise(None)
            .alias("rebuffer_pct"),
            pl.col("startup_ms")
            .filter(started)
            .quantile(0.95, interpolation="linear")
            .alias("startup_p95_ms"),
        )
    )


def minute_metrics(minutes: pl.DataFrame, scope_column: str | None) -> pl.DataFrame:
    """Per scope value and minute: average concurrent viewers and event volume."""
    key = pl.col(scope_column) if scope_column else pl.lit("all")
    volume = pl.sum_horizontal(pl.col(name).fill_null(0) for name in COUNTED_EVENTS)
    return (
        minutes.with_columns(key.alias("scope_value"), volume.alias("events"))
        .group_by("scope_value", "epoch_minute")
        .agg(
            ((pl.col("played_ms").sum() + pl.col("stalled_ms").sum()) / MINUTE_MS).alias(
                "concurrent_viewers"
            ),
            pl.col("events").sum().cast(pl.Float64).alias("event_volume"),
        )
    )
