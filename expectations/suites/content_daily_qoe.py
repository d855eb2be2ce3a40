"""`content_daily_qoe`: view-set QoE per content per view date."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset, mart_volume
from expectations.suites.view_sets import view_set_rules

NAME = "content_daily_qoe"


def rules(suite: SuiteBuilder) -> None:
    suite.not_null(["creator_id", "content_type"])
    view_set_rules(suite)


DATASETS = (
    mart_dataset(NAME, ("view_date", "content_id"), rules, "QoE per content per day"),
    mart_volume(NAME, "view_date"),
)
