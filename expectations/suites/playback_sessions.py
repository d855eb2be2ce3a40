"""`playback_sessions`: one row per view (playback session), newest day only; the volume of
views per day against the days before."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset, mart_volume

NAME = "playback_sessions"
PLATFORMS = ("web", "ios", "android", "tv", "other")


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["content_id", "creator_id", "platform", "view_start_ms", "view_state"])
    suite.in_set("platform", PLATFORMS)
    suite.in_set("content_type", ("live", "vod", "clip", "story"))
    suite.non_negative(["startup_ms", "played_ms", "stalled_ms", "stall_count", "seek_ms"])
    suite.at_least("watched_ms", "played_ms", why="watched time includes played time")
    suite.at_least("last_event_ms", "first_event_ms", why="events in order")
    suite.percent(["rebuffer_pct"])
    suite.between(["percent_reached"], 0, 100, severity="warning", why="a percentage")


DATASETS = (
    mart_dataset(
        NAME,
        ("app_id", "session_id"),
        rules,
        "Playback sessions",
        recent_days=1,
        day_column="view_date",
    ),
    mart_volume(NAME, "view_date", min_baseline=100),
)
