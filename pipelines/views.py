"""View (playback session) summaries: mergeable partials and the METRICS.md per-view fields.

A view is one `session_id` of one app. Its player and ad events can arrive in any batch,
run or worker, hours apart, so the pipeline never holds a session open: each batch yields a
*partial* summary per session (`view_partials`), and partials merge in any order
(`merge_view_partials`, a commutative monoid: mins, maxes, sums, bool-ors and min-by/max-by
picks with total tie-breaks). A late or resumed event simply merges into its view.

`finalize_views` turns merged partials into the per-view fields of METRICS.md once the
catalogue durations and a "now" (processing time, or a watermark) are known; dbt applies the
same rules in SQL. A view with no `playback_ended` whose last event is more than 60 s before
"now" is *dropped*; if events of the same session arrive later, the merge makes it one view
again (resumed), counted once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from marquee.lake import UNKNOWN_COUNTRY, VIEW_ADDED_ATTRIBUTES, VIEW_ADDED_MEASURES
from pipelines import dimensions
from pipelines.aggregates import collect
from pipelines.records import empty_records

DROP_AFTER_MS = 60_000
"""A view without `playback_ended` is dropped after this long without an event."""

COMPLETED_PERCENT_REACHED = 0.99

VIEW_KEY = ["app_id", "session_id"]
VIEW_ATTRIBUTES = [
    "content_id",
    "creator_id",
    "content_type",
    "platform",
    "country",
    "viewer_key",
    *VIEW_ADDED_ATTRIBUTES,
]
"""Descriptive columns; every event of a session should carry the same values. The merge
keeps those of the earliest event (ties broken by the values themselves). The QoE
dimensions app_version, os and device are kept as `pipelines.dimensions` normalises them,
and compared so in ties, so a partial of any run carries what any other would."""

VIEW_PARTIAL_COLUMNS = [
    *VIEW_KEY,
    "first_event_ms",
    "last_event_ms",
    "play_requested_ms",
    *VIEW_ATTRIBUTES,
    "started",
    "started_at_ms",
    "startup_ms",
    "played_ms",
    "stalled_ms",
    "stall_count",
    "seek_ms",
    "failed",
    "ended",
    "ended_at_ms",
    "end_reason",
    "max_playhead_ms",
    "bitrate_weighted",
    "event_count",
    "surface",
]
SUMMED = ["played_ms", "stalled_ms", "stall_count", "seek_ms", "bitrate_weighted", "event_count"]


@dataclass(frozen=True)
class Pick:
    """Columns a merged view takes from one of its rows: the least in a total order.

    Only rows whose first order column is set are candidates (a view with none picks
    nulls): a row without a `playback_started` has no start to pick, and every partial
    this module makes leaves the picked columns null on such rows, so the least of them
    would be null too.
    """

    columns: list[str]
    order_by: list[str]
    """Every picked column is among these, so rows that tie on them agree on the pick."""
    descending: bool
    nulls_last: bool
    normalised: tuple[str, ...] = ()
    """Order columns compared as `pipelines.dimensions` normalises them: rows that tie
    on the normalised values agree on the pick once it is normalised in turn."""

    def order(self, rows: pl.DataFrame) -> pl.Series:
        """Row numbers of the candidate rows, in an order that is this pick's within a view.

        Sorting every row by all the order columns (strings among them) cost more than the
        rest of the merge. The candidates' row numbers are sorted by the first column
        alone, an integer, and only the rows in runs of equal values are sorted again by
        the whole order, in place: a view's tied rows are all in one such run, and ranks
        are only ever compared within a view. Only those rows' order columns are gathered,
        so the first sort moves no string.
        """
        first = self.order_by[0]
        lead = pl.col(first)
        by_lead = (
            rows.select(first)
            .with_row_index("row")
            .filter(lead.is_not_null())
            .sort(first, descending=self.descending)
        )
        tied = by_lead.select(
            ((lead == lead.shift(1)) | (lead == lead.shift(-1))).fill_null(False)
        ).to_series()
        if not tied.any():
            return by_lead["row"]
        tied_at = tied.arg_true()
        tied_rows = by_lead["row"].gather(tied_at)
        keys = rows.select(self.order_by).gather(tied_rows)
        keys = keys.with_columns(dimensions.normalised(keys[name]) for name in self.normalised)
        within = keys.select(
            pl.arg_sort_by(self.order_by, descending=self.descending, nulls_last=self.nulls_last)
        ).to_series()
        return by_lead["row"].scatter(tied_at, tied_rows.gather(within))


PICKS = (
    # content_id ... device of the least (first_event_ms, content_id, ..., device)
    Pick(
        VIEW_ATTRIBUTES,
        ["first_event_ms", *VIEW_ATTRIBUTES],
        descending=False,
        nulls_last=False,
        normalised=tuple(VIEW_ADDED_ATTRIBUTES),
    ),
    # the first playback_started: the least (started_at_ms, startup_ms)
    Pick(["started_at_ms", "startup_ms"], ["started_at_ms", "startup_ms"], False, nulls_last=True),
    # the last playback_ended: the greatest (ended_at_ms, end_reason)
    Pick(["ended_at_ms", "end_reason"], ["ended_at_ms", "end_reason"], True, nulls_last=True),
)


def _event_partials(events: pl.DataFrame) -> pl.DataFrame:
    """One partial per session event: the summary of a view that saw only that event.

    Computed on every event, then filtered: filtering the events first would copy every
    record column, most of which no partial column reads.
    """
    type_ = pl.col("type")
    time = pl.col("event_time_ms")
    is_start = type_ == "playback_started"
    is_end = type_ == "playback_ended"
    return events.select(
        pl.col("app_id").fill_null(""),
        pl.col("session_id"),
        time.alias("first_event_ms"),
        time.alias("last_event_ms"),
        pl.when(type_ == "play_requested").then(time).alias("play_requested_ms"),
        pl.col("content_id").fill_null(""),
        pl.col("creator_id").fill_null(""),
        pl.col("content_type").fill_null(""),
        pl.col("platform").fill_null(""),
        pl.col("country").fill_null(UNKNOWN_COUNTRY),
        pl.col("viewer_key").fill_null(""),
        *VIEW_ADDED_ATTRIBUTES,  # raw: the merge normalises the ones it compares or keeps
        is_start.alias("started"),
        pl.when(is_start).then(time).alias("started_at_ms"),
        pl.when(is_start).then(pl.col("startup_ms")).alias("startup_ms"),
        pl.col("played_ms").fill_null(0),
        pl.col("stalled_ms").fill_null(0),
        pl.col("stall_count").fill_null(0),
        pl.col("seek_ms").fill_null(0),
        ((type_ == "playback_error") & pl.col("fatal")).fill_null(False).alias("failed"),
        is_end.alias("ended"),
        pl.when(is_end).then(time).alias("ended_at_ms"),
        pl.when(is_end).then(pl.col("reason")).alias("end_reason"),
        pl.col("playhead_ms").alias("max_playhead_ms"),
        (pl.col("bitrate_kbps") * pl.col("played_ms")).fill_null(0).alias("bitrate_weighted"),
        pl.lit(1, dtype=pl.Int64).alias("event_count"),
        pl.when(type_ == "play_requested").then(pl.col("surface")).alias("surface"),
    ).filter(pl.col("session_id").is_not_null())


def merge_view_partials(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Merge partial view summaries of any batches, runs or workers, in any order.

    Per (app_id, session_id):
    - first_event_ms, play_requested_ms: min; last_event_ms, max_playhead_ms: max;
    - played_ms, stalled_ms, stall_count, seek_ms, bitrate_weighted, event_count: sum;
    - started, failed, ended: bool-or;
    - startup_ms with started_at_ms: of the least (started_at_ms, startup_ms), i.e. the
      first `playback_started` (min-by);
    - end_reason with ended_at_ms: of the greatest (ended_at_ms, end_reason), i.e. the last
      `playback_ended` (max-by);
    - content_id ... device: of the least (first_event_ms, content_id, ..., device);
    - surface (where the play was asked for: `play_requested.surface`): min, null when no
      play_requested named one.
    Every pick has a total order, so the result does not depend on the order or grouping of
    the inputs. Sums are not idempotent: each event must be merged once, which the
    pipeline's deduplication guarantees. Partials landed before app_version, os and device
    existed count as `unknown` for them, and those landed before surface had none.
    """
    non_empty = [_with_dimensions(frame) for frame in frames if not frame.is_empty()]
    if not non_empty:
        return _event_partials(empty_records())
    rows = pl.concat([frame.select(VIEW_PARTIAL_COLUMNS) for frame in non_empty], rechunk=True)
    return _merged(rows, sort=True)


def _with_dimensions(frame: pl.DataFrame) -> pl.DataFrame:
    """The partials with app_version, os and device (null: `unknown` once merged) and
    surface (null) where an older file had none."""
    added = [*VIEW_ADDED_ATTRIBUTES, *VIEW_ADDED_MEASURES]
    missing = [name for name in added if name not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name) for name in missing)


def _merged(rows: pl.DataFrame, sort: bool) -> pl.DataFrame:
    """One row per view of partial rows; sorted by the view key if asked to.

    A run's partials are landed, never read in order, so `view_partials` leaves them
    unsorted: sorting the views by their key strings cost a tenth of the whole.
    """
    # A pick per group and column (sort_by(...).first() in the aggregation) cost as much as
    # the rest of the merge together. Instead each pick's candidates are ordered once,
    # each view keeps its least rank in that order (an integer min, null without a
    # candidate), and the picked columns are gathered from the rows those ranks name.
    # The QoE dimensions are normalised only where compared (tied rows) and kept (one
    # row per view), not on every event: normalising twice changes nothing.
    orders = [pick.order(rows) for pick in PICKS]
    ranks = pl.DataFrame(
        [_ranks(order, rows.height).alias(f"rank_{index}") for index, order in enumerate(orders)]
    )
    picked = {name for pick in PICKS for name in pick.columns}
    merged = collect(
        rows.select(name for name in VIEW_PARTIAL_COLUMNS if name not in picked)
        .hstack(ranks)
        .lazy()
        .group_by(VIEW_KEY)
        .agg(
            pl.col("first_event_ms").min(),
            pl.col("last_event_ms").max(),
            pl.col("play_requested_ms").min(),
            pl.col("started").any(),
            *(pl.col(name).sum().cast(pl.Int64) for name in SUMMED),
            pl.col("failed").any(),
            pl.col("ended").any(),
            pl.col("max_playhead_ms").max(),
            pl.col("surface").min(),
            pl.col(ranks.columns).min(),
        )
    )
    if sort:
        merged = merged.sort(VIEW_KEY)
    picks = pl.concat(
        [
            rows.select(pick.columns).gather(order.gather(merged[rank]))
            for pick, order, rank in zip(PICKS, orders, ranks.columns, strict=True)
        ],
        how="horizontal",
    )
    return (
        pl.concat([merged.drop(ranks.columns), picks], how="horizontal")
        .with_columns(dimensions.normalised(picks[name]) for name in VIEW_ADDED_ATTRIBUTES)
        .select(VIEW_PARTIAL_COLUMNS)
    )


def _ranks(order: pl.Series, height: int) -> pl.Series:
    """Each row's place in `order` (row numbers), null for a row not in it."""
    places = pl.int_range(0, order.len(), dtype=pl.UInt32, eager=True)
    return pl.Series(dtype=pl.UInt32).extend_constant(None, height).scatter(order, places)


def view_partials(events: pl.DataFrame) -> pl.DataFrame:
    """Partial view summaries of one batch of unique events: one row per session seen.

    The event partials are made contiguous first, as the picks gather from them many
    times over: a no-op for local mode's records (`records.duckdb_frame` reads each
    column in one chunk), a copy for frames joined from several reads.
    """
    return _merged(_event_partials(events).rechunk(), sort=False)


def finalize_views(
    merged: pl.DataFrame,
    durations: Mapping[str, int | None] | pl.DataFrame,
    now_ms: int,
) -> pl.DataFrame:
    """The METRICS.md per-view fields of fully merged view partials.

    `durations` maps content_id to the catalogue's duration_ms (a mapping, or a frame with
    those two columns); `now_ms` is the time the views are judged at (processing time
    locally, the watermark in streaming). Adds:
    - view_start_ms: play_requested_ms, or the first event's time when that is missing;
    - watched_ms = startup_ms + played_ms + stalled_ms + seek_ms (a missing startup is 0);
    - vsf = failed and not started;
    - view_state: `ended` (a playback_ended was received), `dropped` (no playback_ended and
      the last event is more than 60 s before now_ms) or `open`;
    - ebvs = not started, not failed, and ended or dropped (an open view is not yet an exit);
    - percent_reached = max_playhead_ms / duration_ms capped at 1, for non-live content with
      a known positive duration, else null;
    - completed = end_reason is `completed` or percent_reached >= 0.99;
    - avg_bitrate_kbps = bitrate_weighted / played_ms (null without played time);
    - rebuffer_pct = 100 * stalled_ms / watched_ms for started views (null otherwise).
    """
    catalogue = _durations_frame(durations)
    watched = (
        pl.col("startup_ms").fill_null(0)
        + pl.col("played_ms")
        + pl.col("stalled_ms")
        + pl.col("seek_ms")
    )
    dropped = ~pl.col("ended") & (pl.lit(now_ms) - pl.col("last_event_ms") > DROP_AFTER_MS)
    duration = pl.col("duration_ms")
    percent_reached = (
        pl.when((pl.col("content_type") != "live") & (duration > 0))
        .then((pl.col("max_playhead_ms") / duration).clip(upper_bound=1.0))
        .otherwise(None)
    )
    return (
        merged.join(catalogue, on="content_id", how="left")
        .with_columns(
            pl.coalesce("play_requested_ms", "first_event_ms").alias("view_start_ms"),
            watched.alias("watched_ms"),
            (pl.col("failed") & ~pl.col("started")).alias("vsf"),
            pl.when(pl.col("ended"))
            .then(pl.lit("ended"))
            .when(dropped)
            .then(pl.lit("dropped"))
            .otherwise(pl.lit("open"))
            .alias("view_state"),
            percent_reached.alias("percent_reached"),
        )
        .with_columns(
            (
                ~pl.col("started")
                & ~pl.col("failed")
                & pl.col("view_state").is_in(["ended", "dropped"])
            ).alias("ebvs"),
            (
                (pl.col("end_reason") == "completed").fill_null(False)
                | (pl.col("percent_reached") >= COMPLETED_PERCENT_REACHED).fill_null(False)
            ).alias("completed"),
            pl.when(pl.col("played_ms") > 0)
            .then(pl.col("bitrate_weighted") / pl.col("played_ms"))
            .alias("avg_bitrate_kbps"),
            pl.when(pl.col("started") & (pl.col("watched_ms") > 0))
            .then(100.0 * pl.col("stalled_ms") / pl.col("watched_ms"))
            .alias("rebuffer_pct"),
        )
        .sort(VIEW_KEY)
    )


def _durations_frame(durations: Mapping[str, int | None] | pl.DataFrame) -> pl.DataFrame:
    schema = {"content_id": pl.Utf8, "duration_ms": pl.Int64}
    if isinstance(durations, pl.DataFrame):
        return durations.select(list(schema)).cast(schema)  # type: ignore[arg-type]
    return pl.DataFrame(
        {"content_id": list(durations), "duration_ms": list(durations.values())}, schema=schema
    )
