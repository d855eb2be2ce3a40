"""`creator_daily_impressions`: impressions and click-through per creator, day and surface."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset
from expectations.suites.content_daily_impressions import SURFACES


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["impressions", "surfaced_views", "creator_day_impressions"])
    suite.in_set("surface", SURFACES)
    suite.non_negative(["impressions", "surfaced_views", "impression_ctr"])
    suite.at_least(
        "creator_day_impressions", "impressions", why="the day's total covers every surface"
    )


DATASETS = (
    mart_dataset(
        "creator_daily_impressions",
        ("creator_id", "day", "surface"),
        rules,
        "Impressions and impression click-through per creator, day and surface",
    ),
)
