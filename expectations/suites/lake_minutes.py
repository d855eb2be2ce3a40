"""The pipeline's per-minute outputs in the lake (`minute_aggregates`), before dbt reads them.

Rows of the newest day of committed runs (every run's row is a partial sum and must be
consistent on its own): measures non-negative, the startup histogram counting every start,
stalled time within watched time (played + stalled + seek), and no minute later than now
plus the future horizon. Whether starts stay within attempts is judged per content
(`lake_content_totals`): a start can fall in the minute after its request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from expectations.dataset import Dataset, SuiteBuilder
from marquee.lake import MINUTE_AGGREGATES, startup_bucket_columns

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

MEASURES = (
    "attempts",
    "starts",
    "fatal_errors",
    "played_ms",
    "stalled_ms",
    "stall_count",
    "seek_ms",
)
RECENT_MINUTES = 24 * 60


def load(sources: Sources) -> pd.DataFrame | None:
    buckets = " + ".join(f"coalesce({column}, 0)" for column in startup_bucket_columns())
    return sources.lake(
        MINUTE_AGGREGATES,
        f"""
        with rows as (select * from {{files}}),
        newest as (select max(epoch_minute) as minute from rows)
        select
            epoch_minute, content_id, platform, country, run_id,
            {", ".join(MEASURES)},
            {buckets} as startup_histogram_count,
            played_ms + stalled_ms + seek_ms as watched_ms,
            epoch_minute * 60000 - {sources.now_ms} as minute_ahead_of_now_ms,
            'run ' || run_id || ' minute ' || epoch_minute || ' ' || content_id || ' '
                || platform || ' ' || country as label
        from rows, newest
        where epoch_minute > newest.minute - {RECENT_MINUTES}
        """,
    )


def build(suite: SuiteBuilder) -> None:
    suite.columns(["epoch_minute", "content_id", "platform", "country", *MEASURES])
    suite.not_null(["epoch_minute", "content_id", "platform", "country"])
    suite.non_negative(MEASURES)
    suite.equal("startup_histogram_count", "starts", why="the startup histogram counts every start")
    suite.at_least("watched_ms", "stalled_ms", why="stalled time is part of watched time")
    suite.between(
        ["minute_ahead_of_now_ms"], None, 300_000, why="no minute after now and the future horizon"
    )


DATASET = Dataset(
    name="lake_minutes",
    layer="lake",
    description="minute_aggregates rows of the newest day of committed runs",
    load=load,
    build=build,
    required=False,
)
