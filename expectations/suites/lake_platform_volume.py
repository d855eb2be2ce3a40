"""Per platform, play attempts on the newest complete day against the days before it.

Read from the lake's committed minutes (by event time), so a platform whose traffic
vanishes (a broken release, an SDK no longer sending) is caught the day after, whatever
the marts make of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from expectations.dataset import Dataset, SuiteBuilder
from expectations.volume import daily_volume_sql
from marquee.lake import MINUTE_AGGREGATES

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

MIN_BASELINE = 100
"""Attempts a platform must have on a median day for its drop to be judged."""


def load(sources: Sources) -> pd.DataFrame | None:
    files = sources.lake_files(MINUTE_AGGREGATES)
    if not files:
        return None
    daily = (
        "select 'platform ' || platform as grp, "
        "cast(to_timestamp(epoch_minute * 60) at time zone 'UTC' as date) as day, "
        f"sum(attempts)::double as amount from read_parquet({files!r}, union_by_name = true) "
        "group by all"
    )
    return sources.query(daily_volume_sql(daily, MIN_BASELINE), [sources.today])


def build(suite: SuiteBuilder) -> None:
    suite.not_null(["grp", "day"])
    suite.volume()


DATASET = Dataset(
    name="lake_platform_volume",
    layer="lake",
    description="Play attempts per platform per day in the lake",
    load=load,
    build=build,
    required=False,
)
