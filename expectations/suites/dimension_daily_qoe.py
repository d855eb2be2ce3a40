"""`dimension_daily_qoe`: view-set QoE per dimension value (platform, country, ...) per day,
and per platform, views on the newest complete day against the days before: a platform whose
traffic vanishes is a critical failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from expectations.dataset import Dataset, SuiteBuilder
from expectations.marts import mart_dataset
from expectations.suites.view_sets import view_set_rules
from expectations.volume import daily_volume

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

NAME = "dimension_daily_qoe"
TABLE = f"main.{NAME}"


def rules(suite: SuiteBuilder) -> None:
    view_set_rules(suite)


def platform_volume(sources: Sources) -> pd.DataFrame | None:
    if not sources.has_table(TABLE):
        return None
    daily = (
        "select 'platform ' || dimension_value as grp, view_date as day, "
        f"sum(views)::double as amount from {TABLE} where dimension = 'platform' group by all"
    )
    return daily_volume(sources, daily, min_baseline=50)


def volume_rules(suite: SuiteBuilder) -> None:
    suite.not_null(["grp"])
    suite.volume()


DATASETS = (
    mart_dataset(
        NAME, ("view_date", "dimension", "dimension_value"), rules, "QoE per dimension per day"
    ),
    Dataset(
        name="platform_daily_views",
        layer="mart",
        description="Views per platform per day (dimension_daily_qoe)",
        load=platform_volume,
        build=volume_rules,
    ),
)
