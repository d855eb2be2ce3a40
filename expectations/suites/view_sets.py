"""Rules shared by the marts of view-set QoE metrics (METRICS.md): counts within views,
ratios in percent, startup percentiles in order."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder

VIEW_COUNTS = ("started_views", "failed_views", "vsf_views", "ebvs_views", "completed_views")
PERCENTS = ("playback_failure_pct", "vsf_pct", "ebvs_pct", "rebuffer_pct", "completion_rate_pct")


def view_set_rules(suite: SuiteBuilder) -> None:
    suite.non_negative(["views", "unique_viewers", *VIEW_COUNTS, "played_ms", "watched_ms"])
    for column in VIEW_COUNTS:
        suite.at_least("views", column, why="a subset of the views")
    suite.at_least("views", "unique_viewers", why="a viewer has at least one view")
    suite.percent(PERCENTS)
    suite.at_least("startup_p95_ms", "startup_p50_ms", why="percentiles in order")
    suite.at_least("watched_ms", "played_ms", why="watched time includes played time")
