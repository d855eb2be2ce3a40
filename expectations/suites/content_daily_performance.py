"""`content_daily_performance`: one row per content per UTC day.

The mart counts play requests (`play_requests`), never views: a `views` column left from
before the rename fails the column set. Watched time covers played time; rows per day must
not halve against the days before. Whether starts stay within requests is judged per content
over the lake (`lake_content_totals`): a day may hold starts whose requests were the day
before, or were quarantined.
"""

from __future__ import annotations

from expectations.dataset import SuiteBuilder, gx_severity
from expectations.marts import mart_dataset, mart_volume

NAME = "content_daily_performance"
KEY = ("day", "content_id")
MEASURES = (
    "play_requests",
    "starts",
    "fatal_errors",
    "played_ms",
    "stalled_ms",
    "stall_count",
    "seek_ms",
    "startup_ms_sum",
    "watched_ms",
    "peak_concurrent_viewers",
)
COLUMNS = (*KEY, "creator_id", "content_type", *MEASURES, "last_minute_start_at", "built_at_ms")
CONTENT_TYPES = ("live", "vod", "clip", "story")


def rules(suite: SuiteBuilder) -> None:
    import great_expectations.expectations as gxe

    suite.add(
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*COLUMNS, "label"],
            exact_match=True,
            severity=gx_severity("critical"),
            description="exactly the mart's columns (no `views` left from before play_requests)",
        )
    )
    suite.not_null(["creator_id", "content_type", *MEASURES, "built_at_ms"])
    suite.in_set("content_type", CONTENT_TYPES)
    suite.non_negative(MEASURES)
    suite.at_least("watched_ms", "played_ms", why="watched time includes played time")


DATASETS = (
    mart_dataset(NAME, KEY, rules, "Plays and watch time per content per day"),
    mart_volume(NAME, "day"),
)
