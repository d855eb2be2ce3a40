"""`content_minute_qoe`: per content per minute (newest day only): counts non-negative, the
startup histogram counting every start, ratios in percent."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset
from marquee.lake import startup_bucket_columns

COUNTS = ("attempts", "starts", "fatal_errors", "views", "vsf_views", "ebvs_views")


def rules(suite: SuiteBuilder) -> None:
    suite.non_negative([*COUNTS, *startup_bucket_columns(), "played_ms", "stalled_ms"])
    suite.percent(["playback_failure_pct", "vsf_pct", "ebvs_pct", "rebuffer_pct"])
    suite.at_least("watched_ms", "played_ms", why="watched time includes played time")
    suite.at_least("views", "vsf_views", why="a subset of the views")
    suite.at_least("startup_p95_ms", "startup_p50_ms", why="percentiles in order")


DATASETS = (
    mart_dataset(
        "content_minute_qoe",
        ("epoch_minute", "content_id"),
        rules,
        "QoE per content per minute",
        recent_days=1,
        day_column="minute_start_at",
    ),
)
