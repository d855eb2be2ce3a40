"""`creator_daily_performance`: one row per creator per day."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset, mart_volume

NAME = "creator_daily_performance"


def rules(suite: SuiteBuilder) -> None:
    suite.non_negative(
        [
            "views",
            "unique_viewers",
            "started_views",
            "failed_views",
            "follows",
            "unfollows",
            "story_reach",
            "reactions",
            "chat_messages",
            "shares",
            "tips",
            "ad_impressions",
        ]
    )
    suite.at_least("views", "started_views", why="a subset of the views")
    suite.at_least("views", "failed_views", why="a subset of the views")
    suite.at_least("views", "unique_viewers", why="a viewer has at least one view")
    suite.at_least("reactions", "valid_reactions", why="valid reactions are a subset")
    suite.percent(
        ["completion_rate_pct", "rebuffer_pct", "playback_failure_pct", "reaction_rate_pct"]
    )


DATASETS = (
    mart_dataset(NAME, ("creator_id", "day"), rules, "Audience and engagement per creator per day"),
    mart_volume(NAME, "day"),
)
