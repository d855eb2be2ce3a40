"""Queries of the Creators page, over `main.creator_daily_performance`."""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards import data

CREATOR_TOTALS_SQL = """
select
    creator_id,
    sum(views)::bigint as views,
    sum(watch_time_hours) as watch_hours,
    sum(started_views)::bigint as started_views,
    sum(failed_views)::bigint as failed_views
from main.creator_daily_performance
where day between ? and ?
group by creator_id
having sum(views) > 0
order by views desc, creator_id
"""

CREATOR_TOTALS_COLUMNS = ("creator_id", "views", "watch_hours", "started_views", "failed_views")


def creator_totals(start: date, end: date) -> pd.DataFrame:
    """One row per creator with views in [start, end]: views, watch hours, started and
    failed views, most views first. Views are playback sessions by the UTC day of their
    start, as every mart counts them."""
    return data.query(CREATOR_TOTALS_SQL, [start, end], columns=CREATOR_TOTALS_COLUMNS)
