"""Volume against the previous days: one row per group for the newest complete UTC day.

A frame of `group`, `day`, `amount` (rows, views, attempts: whatever the caller sums),
`baseline` (the median of the same group's daily amounts over the `BASELINE_DAYS` days before)
and `ratio_to_baseline`. Groups seen in the baseline but absent on the day get amount 0, so a
platform whose traffic vanished is a row with ratio 0, not a missing row. Groups whose
baseline is under `min_baseline` (too small to judge) and the day itself when no earlier
day exists get no ratio (null), which the volume expectation does not judge. Today (UTC) is
still filling, so the newest complete day is the newest one before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from expectations.sources import Sources

BASELINE_DAYS = 7


def daily_volume_sql(daily: str, min_baseline: float) -> str:
    """The volume frame over `daily`, a query of (grp, day, amount) rows; parameter: today."""
    return f"""
    with daily as ({daily}),
    target as (select max(day) as day from daily where day < ?),
    baseline as (
        select grp, median(amount) as baseline, count(*) as baseline_days
        from daily, target
        where daily.day < target.day and daily.day >= target.day - {BASELINE_DAYS}
        group by grp
    ),
    newest as (select grp, amount from daily, target where daily.day = target.day)
    select
        coalesce(newest.grp, baseline.grp) as grp,
        (select day from target) as day,
        coalesce(newest.amount, 0) as amount,
        baseline.baseline,
        case when baseline.baseline >= {min_baseline}
            then coalesce(newest.amount, 0) / baseline.baseline end as ratio_to_baseline,
        coalesce(newest.grp, baseline.grp) || ' on ' || cast((select day from target) as varchar)
            || ': ' || cast(round(coalesce(newest.amount, 0)) as bigint) || ' against a median of '
            || coalesce(cast(cast(round(baseline.baseline) as bigint) as varchar), 'nothing')
            || ' the days before' as label
    from newest full join baseline using (grp)
    where (select day from target) is not null
    """


def daily_volume(sources: Sources, daily: str, min_baseline: float = 50) -> pd.DataFrame:
    """The volume frame of `daily` (a query over the warehouse) as of `sources.today`."""
    return sources.query(daily_volume_sql(daily, min_baseline), [sources.today])


def mart_rows_volume(
    sources: Sources, table: str, day_column: str, min_baseline: float = 50
) -> pd.DataFrame | None:
    """Rows per day of a mart, as a volume frame with one group (the mart's name)."""
    if not sources.has_table(table):
        return None
    daily = (
        f"select '{table} rows' as grp, {day_column} as day, count(*)::double as amount "
        f"from {table} where {day_column} is not null group by all"
    )
    return daily_volume(sources, daily, min_baseline)
