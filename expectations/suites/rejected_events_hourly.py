"""`rejected_events_hourly`: quarantined events and bodies per hour, app and reason."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset


def rules(suite: SuiteBuilder) -> None:
    suite.non_negative(["rejected_events", "rejected_bodies"])
    suite.matches("reason", "^[a-z_]+$", "a stable reason code")


DATASETS = (
    mart_dataset(
        "rejected_events_hourly",
        ("hour_start_at", "app_id", "reason"),
        rules,
        "Rejections per hour",
    ),
)
