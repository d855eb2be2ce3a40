"""`dimension_minute_qoe`: view-set QoE per dimension value per minute (newest day only)."""

from __future__ import annotations

from expectations.dataset import SuiteBuilder
from expectations.marts import mart_dataset
from expectations.suites.view_sets import view_set_rules


def rules(suite: SuiteBuilder) -> None:
    view_set_rules(suite)


DATASETS = (
    mart_dataset(
        "dimension_minute_qoe",
        ("epoch_minute", "dimension", "dimension_value"),
        rules,
        "QoE per dimension per minute",
        recent_days=1,
        day_column="view_date",
    ),
)
