"""`content_daily_impressions`: impressions and click-through per content, surface and day."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset

SURFACES = ("feed", "profile", "search", "tray", "share", "other")
"""EVENTS.md `surface`: where content was shown or its play asked for."""


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["creator_id", "content_type", "impressions", "surfaced_views"])
    suite.in_set("surface", SURFACES)
    suite.non_negative(["impressions", "surfaced_views"])
    suite.non_negative(["impression_ctr"])


DATASETS = (
    mart_dataset(
        "content_daily_impressions",
        ("day", "content_id", "surface"),
        rules,
        "Impressions and impression click-through per content, surface and day",
    ),
)
