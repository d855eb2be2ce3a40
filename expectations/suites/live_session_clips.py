"""`live_session_clips`: per live session, its clips and their views within 7 days."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["creator_id", "first_minute", "clip_window_ends_at"])
    suite.non_negative(
        ["clips", "clips_viewed", "clip_views", "clip_unique_viewers", "clip_watched_ms"]
    )
    suite.at_least("clips", "clips_viewed", why="a viewed clip is one of the live's clips")
    suite.at_least("clip_views", "clips_viewed", why="a viewed clip has a view")
    suite.at_least("clip_views", "clip_unique_viewers", why="every viewer has a view")


DATASETS = (mart_dataset("live_session_clips", ("live_id",), rules, "Clips cut from live streams"),)
