"""`vod_clip_retention`: per VOD or clip, views reaching each percent of its duration."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.between(["percent_point"], 0, 100, why="a percent of the duration")
    suite.at_least("started_views", "views_reaching", why="a view reaching a point started")
    suite.percent(["retention_pct"])


DATASETS = (
    mart_dataset(
        "vod_clip_retention", ("content_id", "percent_point"), rules, "VOD and clip retention"
    ),
)
