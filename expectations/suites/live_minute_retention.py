"""`live_minute_retention`: concurrent viewers per live stream per minute since its start."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.non_negative(["minutes_since_start", "avg_concurrent_viewers", "chat_messages"])


DATASETS = (
    mart_dataset(
        "live_minute_retention",
        ("live_id", "minutes_since_start"),
        rules,
        "Live audience per minute",
    ),
)
