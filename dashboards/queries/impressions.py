"""SQL for impressions and impression click-through (METRICS.md "Discovery"), shown on the
Creators, Creator and Content pages.

Per surface over a period, from `main.creator_daily_impressions` (creators) and
`main.content_daily_impressions` (a content): the impressions, the views from the surface,
and the click-through rate summed again from those days' counts. A day's views from a
surface with no impressions that day count in no rate (METRICS.md), so the period's rate
takes the views of the days with impressions only. Impressions carry no platform or
country: those filters do not apply.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards import data

CREATOR_TABLE = "creator_daily_impressions"
CONTENT_TABLE = "content_daily_impressions"
SURFACES = ("feed", "profile", "search", "tray", "share", "other")

SURFACE_COLUMNS = ("surface", "impressions", "surfaced_views", "impression_ctr_pct")

_PER_SURFACE = """
select
    surface,
    sum(impressions)::bigint as impressions,
    sum(surfaced_views)::bigint as surfaced_views,
    100.0 * sum(surfaced_views) filter (where impressions > 0)
        / nullif(sum(impressions), 0) as impression_ctr_pct
"""

CREATORS_SURFACE_SQL = (
    _PER_SURFACE
    + """
from main.creator_daily_impressions
where day between ? and ? and (? is null or creator_id = ?)
group by surface
order by impressions desc, surface
"""
)
"""Params: start, end, creator twice (None: every creator)."""

CONTENT_SURFACE_SQL = (
    _PER_SURFACE
    + """
from main.content_daily_impressions
where content_id = ? and day between ? and ?
group by surface
order by impressions desc, surface
"""
)
"""Params: content, start, end."""

CREATOR_DAILY_SQL = """
select day, surface, impressions, 100.0 * impression_ctr as impression_ctr_pct
from main.creator_daily_impressions
where creator_id = ? and day between ? and ? and impressions > 0
order by day, surface
"""
"""Params: creator, start, end. The days a surface had impressions."""

CREATOR_DAILY_COLUMNS = ("day", "surface", "impressions", "impression_ctr_pct")

_CTR_PER_SURFACE = ",\n    ".join(
    f"100.0 * sum(surfaced_views) filter (where impressions > 0 and surface = '{surface}')"
    f" / nullif(sum(impressions) filter (where surface = '{surface}'), 0) as {surface}_ctr_pct"
    for surface in SURFACES
)

TOP_CREATORS_SQL = f"""
select
    impressions_per_day.creator_id,
    coalesce(any_value(creators.creator_name), impressions_per_day.creator_id) as creator_name,
    sum(impressions)::bigint as impressions,
    {_CTR_PER_SURFACE}
from main.creator_daily_impressions as impressions_per_day
left join main.stg_catalog__creators as creators
    on impressions_per_day.creator_id = creators.creator_id
where day between ? and ? and (? is null or impressions_per_day.creator_id = ?)
group by impressions_per_day.creator_id
having sum(impressions) > 0
order by impressions desc, impressions_per_day.creator_id
limit ?
"""
"""Params: start, end, creator twice, limit. The creators with the most impressions."""

TOP_CREATORS_COLUMNS = (
    "creator_id",
    "creator_name",
    "impressions",
    *(f"{surface}_ctr_pct" for surface in SURFACES),
)


def available(table: str) -> bool:
    """Whether the published warehouse has the mart (older builds do not)."""
    return data.table_exists(table)


def creators_per_surface(start: date, end: date, creator_id: str | None) -> pd.DataFrame:
    return data.query(
        CREATORS_SURFACE_SQL, [start, end, creator_id, creator_id], columns=SURFACE_COLUMNS
    )


def top_creators(start: date, end: date, creator_id: str | None, limit: int) -> pd.DataFrame:
    return data.query(
        TOP_CREATORS_SQL, [start, end, creator_id, creator_id, limit], columns=TOP_CREATORS_COLUMNS
    )


def creator_daily(creator_id: str, start: date, end: date) -> pd.DataFrame:
    return data.query(CREATOR_DAILY_SQL, [creator_id, start, end], columns=CREATOR_DAILY_COLUMNS)


def content_per_surface(content_id: str, start: date, end: date) -> pd.DataFrame:
    return data.query(CONTENT_SURFACE_SQL, [content_id, start, end], columns=SURFACE_COLUMNS)
