"""Queries of the Creator page: one creator over the filter period.

Daily trends from `main.creator_daily_performance` (or the `playback_sessions` mart under a content
type, platform or country filter), top content from `main.content_daily_qoe` (or the
`playback_sessions` mart under a platform or country filter), live sessions from
`main.live_sessions`, the stories funnel from `main.stories`, ads from
`main.creator_daily_ad_performance`, and the QoE numbers over the creator's views in the
`playback_sessions` mart (percentiles cannot be added up from days).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from dashboards import data
from dashboards.filters import Filters, twice

_CREATOR_VIEWS = """
from main.playback_sessions
where
    creator_id = ? and view_date between ? and ?
    and (? is null or content_type = ?)
    and (? is null or platform = ?)
    and (? is null or country = ?)
"""
"""The creator's views of [start, end] that pass the type, platform and country filters.
Params: creator, start, end, then type, platform, country each twice."""

DAILY_SQL = """
select day, sum(views)::bigint as views, sum(watch_time_hours) as watch_hours,
    sum(net_followers)::bigint as net_followers
from main.creator_daily_performance
where creator_id = ? and day between ? and ?
group by day
order by day
"""
"""Params: creator, start, end."""

DAILY_FILTERED_SQL = (
    """
select view_date as day, count(*)::bigint as views, sum(watched_ms) / 3600000.0 as watch_hours
"""
    + _CREATOR_VIEWS
    + """
group by view_date
order by view_date
"""
)
"""Params: creator, start, end, then type, platform, country each twice."""

DAILY_COLUMNS = ("day", "views", "watch_hours", "net_followers")

TOP_CONTENT_SQL = """
select
    content_id,
    any_value(content_type) as content_type,
    sum(views)::bigint as views,
    sum(watch_time_hours) as watch_hours,
    case when any_value(content_type) <> 'live'
        then 100.0 * sum(completed_views) / nullif(sum(started_views), 0)
    end as completion_rate_pct,
    100.0 * sum(failed_views) / nullif(sum(views), 0) as playback_failure_pct
from main.content_daily_qoe
where creator_id = ? and view_date between ? and ? and (? is null or content_type = ?)
group by content_id
order by views desc, content_id
limit ?
"""
"""Params: creator, start, end, type twice, limit. Completion is not defined for live."""

TOP_CONTENT_FILTERED_SQL = (
    """
select
    content_id,
    any_value(content_type) as content_type,
    count(*)::bigint as views,
    sum(watched_ms) / 3600000.0 as watch_hours,
    case when any_value(content_type) <> 'live'
        then 100.0 * count(*) filter (where is_started and is_completed)
            / nullif(count(*) filter (where is_started), 0)
    end as completion_rate_pct,
    100.0 * count(*) filter (where is_failed) / count(*) as playback_failure_pct
"""
    + _CREATOR_VIEWS
    + """
group by content_id
order by views desc, content_id
limit ?
"""
)
"""Params: creator, start, end, type, platform, country each twice, limit."""

TOP_CONTENT_COLUMNS = (
    "content_id",
    "content_type",
    "views",
    "watch_hours",
    "completion_rate_pct",
    "playback_failure_pct",
)

CONTENT_TITLES_SQL = """
select distinct on (content_id) content_id, content_title
from main.playback_sessions
where creator_id = ? and view_date between ? and ? and content_title is not null
"""
"""Params: creator, start, end. Titles of the creator's content (the catalogue's, on views)."""

LIVE_SESSIONS_SQL = """
select
    live_id,
    coalesce(content_title, live_id) as title,
    stream_started_at,
    stream_date,
    stream_minutes,
    views,
    avg_concurrent_viewers,
    peak_concurrent_viewers,
    chat_messages,
    chatters
from main.live_sessions
where creator_id = ? and stream_date between ? and ?
order by stream_started_at desc, live_id
"""
"""Params: creator, start, end."""

LIVE_SESSIONS_COLUMNS = (
    "live_id",
    "title",
    "stream_started_at",
    "stream_date",
    "stream_minutes",
    "views",
    "avg_concurrent_viewers",
    "peak_concurrent_viewers",
    "chat_messages",
    "chatters",
)

STORIES_SQL = """
select
    story_id,
    coalesce(content_title, story_id) as title,
    published_at,
    reach,
    completed_viewers,
    reached_valid_reactors,
    valid_reactions,
    converted_viewers,
    announces_live_id
from main.stories
where creator_id = ? and coalesce(first_viewed_date, published_at::date) between ? and ?
order by published_at desc, story_id
"""
"""Params: creator, start, end. A story belongs to the day it was first viewed (its
published day when nobody viewed it)."""

STORIES_COLUMNS = (
    "story_id",
    "title",
    "published_at",
    "reach",
    "completed_viewers",
    "reached_valid_reactors",
    "valid_reactions",
    "converted_viewers",
    "announces_live_id",
)

ADS_SQL = """
select
    ad_format,
    sum(ad_impressions)::bigint as impressions,
    sum(ad_completion_rate_pct * ad_impressions) / nullif(sum(ad_impressions), 0)
        as completion_rate_pct,
    sum(skip_rate_pct * ad_impressions) / nullif(sum(ad_impressions), 0) as skip_rate_pct,
    sum(ctr_pct * ad_impressions) / nullif(sum(ad_impressions), 0) as ctr_pct
from main.creator_daily_ad_performance
where creator_id = ? and day between ? and ?
group by grouping sets ((ad_format), ())
order by ad_format nulls last
"""
"""Params: creator, start, end. Each rate is a count over the day's impressions, so rates
weighted by impressions add up to the period's rate; the row with ad_format null is all
formats."""

ADS_COLUMNS = ("ad_format", "impressions", "completion_rate_pct", "skip_rate_pct", "ctr_pct")

QOE_SQL = (
    """
select
    count(*)::bigint as views,
    100.0 * count(*) filter (where is_failed) / nullif(count(*), 0) as playback_failure_pct,
    100.0 * count(*) filter (where is_vsf) / nullif(count(*), 0) as vsf_pct,
    quantile_cont(startup_ms, 0.5) filter (where is_started) as startup_p50_ms,
    quantile_cont(startup_ms, 0.95) filter (where is_started) as startup_p95_ms,
    100.0 * sum(stalled_ms) filter (where is_started)
        / nullif(sum(watched_ms) filter (where is_started), 0) as rebuffer_pct
"""
    + _CREATOR_VIEWS
)
"""Params: creator, start, end, type, platform, country each twice. METRICS.md's QoE over a
set of views, as dbt/macros/view_set_metrics.sql computes it."""

QOE_COLUMNS = (
    "views",
    "playback_failure_pct",
    "vsf_pct",
    "startup_p50_ms",
    "startup_p95_ms",
    "rebuffer_pct",
)

TOP_CONTENT_LIMIT = 20


def _dimensions(filters: Filters) -> list[str | None]:
    return twice([filters.content_type, filters.platform, filters.country])


def daily(filters: Filters, creator_id: str, start: date, end: date) -> pd.DataFrame:
    """Views, watch hours and net followers per UTC day. Under a type, platform or country
    filter views and watch hours count only those views and net followers is empty."""
    if any(v is not None for v in (filters.content_type, filters.platform, filters.country)):
        frame = data.query(
            DAILY_FILTERED_SQL,
            [creator_id, start, end, *_dimensions(filters)],
            columns=DAILY_COLUMNS[:3],
        )
        frame["net_followers"] = None
        return frame
    return data.query(DAILY_SQL, [creator_id, start, end], columns=DAILY_COLUMNS)


def top_content(filters: Filters, creator_id: str, start: date, end: date) -> pd.DataFrame:
    """The creator's content with the most views, with a display title (the id when the
    catalogue has no title)."""
    if filters.platform is not None or filters.country is not None:
        frame = data.query(
            TOP_CONTENT_FILTERED_SQL,
            [creator_id, start, end, *_dimensions(filters), TOP_CONTENT_LIMIT],
            columns=TOP_CONTENT_COLUMNS,
        )
    else:
        frame = data.query(
            TOP_CONTENT_SQL,
            [creator_id, start, end, *twice([filters.content_type]), TOP_CONTENT_LIMIT],
            columns=TOP_CONTENT_COLUMNS,
        )
    titles = data.query(
        CONTENT_TITLES_SQL, [creator_id, start, end], columns=["content_id", "content_title"]
    )
    by_id = dict(zip(titles["content_id"], titles["content_title"], strict=True))
    frame["title"] = [by_id.get(content_id) or content_id for content_id in frame["content_id"]]
    return frame


def live_sessions(creator_id: str, start: date, end: date) -> pd.DataFrame:
    return data.query(LIVE_SESSIONS_SQL, [creator_id, start, end], columns=LIVE_SESSIONS_COLUMNS)


def stories(creator_id: str, start: date, end: date) -> pd.DataFrame:
    return data.query(STORIES_SQL, [creator_id, start, end], columns=STORIES_COLUMNS)


def ads(creator_id: str, start: date, end: date) -> pd.DataFrame:
    return data.query(ADS_SQL, [creator_id, start, end], columns=ADS_COLUMNS)


def qoe(filters: Filters, creator_id: str, start: date, end: date) -> pd.DataFrame:
    return data.query(QOE_SQL, [creator_id, start, end, *_dimensions(filters)], columns=QOE_COLUMNS)


def top_creators(start: date, end: date, limit: int) -> pd.DataFrame:
    """The creators with the most views in [start, end], to pick one from."""
    return data.query(
        TOP_CREATORS_SQL, [start, end, limit], columns=["creator_id", "creator_name", "views"]
    )


TOP_CREATORS_SQL = """
select creator_id, coalesce(max(creator_name), creator_id) as creator_name,
    sum(views)::bigint as views
from main.creator_daily_performance
where day between ? and ?
group by creator_id
having sum(views) > 0
order by views desc, creator_id
limit ?
"""
"""Params: start, end, limit."""
