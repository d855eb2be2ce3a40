"""Queries of the Content page: one VOD, clip, story or live stream.

The list of content comes from the marts that name content: `main.content_daily_qoe` (one row
per content per UTC day with views: VOD, clips and live streams), `main.stories` (one row per
story), with titles and publication times from `main.vod_clip_performance` and
`main.live_sessions`. The numbers of one content come from `content_daily_qoe` (views,
completion, watch hours over the period; unique viewers over several days are distinct
viewers of the `playback_sessions` mart, filtered to that content), `vod_clip_retention` and
`live_minute_retention`, `content_minute_qoe`, `ad_placement_daily_performance`,
`live_sessions` with `live_session_tips`, and the stories mart (`dashboards.queries.stories`).
None of these marts is broken down by platform or country.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboards import data
from dashboards.filters import twice

MAX_OPTIONS = 500
"""The content picker offers the content with the most views in the period (and the one the
URL names); a selectbox of every content of a month would be too large to send."""

CONTENT_SQL = """
with playback as (
    select
        content_id,
        any_value(creator_id) as creator_id,
        any_value(content_type) as content_type,
        sum(views)::bigint as views,
        sum(watch_time_hours) as watch_hours
    from main.content_daily_qoe
    where view_date between ? and ?
    group by content_id
),

story_views as (
    select
        story_id as content_id,
        creator_id,
        'story' as content_type,
        impressions
    from main.stories
    where coalesce(first_viewed_date, cast(published_at as date)) between ? and ?
),

listed as (
    select content_id, creator_id, content_type, views, watch_hours, null::bigint as impressions
    from playback
    union all
    select content_id, creator_id, content_type, null, null, impressions
    from story_views
),

titles as (
    select content_id, content_title, published_at from main.vod_clip_performance
    union all
    select live_id, content_title, published_at from main.live_sessions
    union all
    select story_id, content_title, published_at from main.stories
)

select
    l.content_id,
    coalesce(t.content_title, l.content_id) as content_title,
    l.creator_id,
    l.content_type,
    t.published_at,
    l.views,
    l.watch_hours,
    l.impressions
from listed as l
left join titles as t on t.content_id = l.content_id
where
    (? is null or l.creator_id = ?)
    and (? is null or l.content_type = ?)
order by coalesce(l.views, l.impressions, 0) desc, l.content_id
limit ?
"""
"""Content with views (or, for stories, impressions) in the period, most first."""

CONTENT_COLUMNS = (
    "content_id",
    "content_title",
    "creator_id",
    "content_type",
    "published_at",
    "views",
    "watch_hours",
    "impressions",
)

ONE_CONTENT_SQL = """
with known as (
    select content_id, creator_id, content_type, content_title, published_at
    from main.vod_clip_performance
    union all
    select live_id, creator_id, 'live', content_title, published_at from main.live_sessions
    union all
    select story_id, creator_id, 'story', content_title, published_at from main.stories
    union all
    select content_id, any_value(creator_id), any_value(content_type), null, null
    from main.content_daily_qoe
    where content_id = ?
    group by content_id
)

select
    content_id,
    coalesce(max(content_title), content_id) as content_title,
    any_value(creator_id) as creator_id,
    any_value(content_type) as content_type,
    max(published_at) as published_at,
    null::bigint as views,
    null::double as watch_hours,
    null::bigint as impressions
from known
where
    content_id = ?
    and (? is null or creator_id = ?)
    and (? is null or content_type = ?)
group by content_id
"""
"""One content by id, whatever the period, if the creator and type filters allow it."""

PLAYBACK_SQL = """
select
    sum(views)::bigint as views,
    (
        select count(distinct viewer_key)
        from main.playback_sessions
        where content_id = ? and view_date between ? and ?
    ) as unique_viewers,
    sum(started_views)::bigint as started_views,
    sum(completed_views)::bigint as completed_views,
    100.0 * sum(completed_views) / nullif(sum(started_views), 0) as completion_rate_pct,
    sum(watch_time_hours) as watch_time_hours
from main.content_daily_qoe
where content_id = ? and view_date between ? and ?
"""
"""Views, unique viewers, completion and watch hours of one content over [start, end]."""

PLAYBACK_COLUMNS = (
    "views",
    "unique_viewers",
    "started_views",
    "completed_views",
    "completion_rate_pct",
    "watch_time_hours",
)

RETENTION_SQL = """
select percent_point, started_views, views_reaching, retention_pct
from main.vod_clip_retention
where content_id = ?
order by percent_point
"""

LIVE_RETENTION_SQL = """
select minutes_since_start, minute_start_at, avg_concurrent_viewers, chat_messages
from main.live_minute_retention
where live_id = ?
order by minutes_since_start
"""

QOE_SQL = """
with minutes as (
    select
        make_timestamp((epoch_minute // ?) * ? * 60000000) as bucket_start,
        attempts,
        fatal_errors,
        stalled_ms,
        watched_ms,
        played_ms,
        avg_bitrate_kbps,
        startup_bucket_0_250 as b0,
        startup_bucket_250_500 as b1,
        startup_bucket_500_1000 as b2,
        startup_bucket_1000_2000 as b3,
        startup_bucket_2000_4000 as b4,
        startup_bucket_4000_8000 as b5,
        startup_bucket_8000_inf as b6
    from main.content_minute_qoe
    where content_id = ? and minute_start_at >= ? and minute_start_at < ?
),

buckets as (
    select
        bucket_start,
        sum(attempts) as attempts,
        sum(fatal_errors) as fatal_errors,
        sum(stalled_ms) as stalled_ms,
        sum(watched_ms) as watched_ms,
        sum(avg_bitrate_kbps * played_ms) as bitrate_weighted,
        sum(played_ms) filter (where avg_bitrate_kbps is not null) as bitrate_played_ms,
        sum(b0) as b0, sum(b1) as b1, sum(b2) as b2, sum(b3) as b3,
        sum(b4) as b4, sum(b5) as b5, sum(b6) as b6
    from minutes
    group by bucket_start
),

with_totals as (
    select *, b0 + b1 + b2 + b3 + b4 + b5 + b6 as started from buckets
)

-- Startup percentiles from the summed histogram, by linear interpolation inside the bucket
-- that holds them (the open last bucket reports 8000 ms), as dbt's histogram_percentile
-- macro computes them per minute: the same estimate over an hour as over a minute.
select
    bucket_start,
    attempts,
    100.0 * fatal_errors / nullif(attempts, 0) as playback_failure_pct,
    case
        when started = 0 then null
        when 0.5 * started <= b0 then 0 + (0.5 * started) * 250.0 / b0
        when 0.5 * started <= b0 + b1 then 250 + (0.5 * started - b0) * 250.0 / b1
        when 0.5 * started <= b0 + b1 + b2 then 500 + (0.5 * started - b0 - b1) * 500.0 / b2
        when 0.5 * started <= b0 + b1 + b2 + b3
            then 1000 + (0.5 * started - b0 - b1 - b2) * 1000.0 / b3
        when 0.5 * started <= b0 + b1 + b2 + b3 + b4
            then 2000 + (0.5 * started - b0 - b1 - b2 - b3) * 2000.0 / b4
        when 0.5 * started <= b0 + b1 + b2 + b3 + b4 + b5
            then 4000 + (0.5 * started - b0 - b1 - b2 - b3 - b4) * 4000.0 / b5
        else 8000
    end as startup_p50_ms,
    case
        when started = 0 then null
        when 0.95 * started <= b0 then 0 + (0.95 * started) * 250.0 / b0
        when 0.95 * started <= b0 + b1 then 250 + (0.95 * started - b0) * 250.0 / b1
        when 0.95 * started <= b0 + b1 + b2 then 500 + (0.95 * started - b0 - b1) * 500.0 / b2
        when 0.95 * started <= b0 + b1 + b2 + b3
            then 1000 + (0.95 * started - b0 - b1 - b2) * 1000.0 / b3
        when 0.95 * started <= b0 + b1 + b2 + b3 + b4
            then 2000 + (0.95 * started - b0 - b1 - b2 - b3) * 2000.0 / b4
        when 0.95 * started <= b0 + b1 + b2 + b3 + b4 + b5
            then 4000 + (0.95 * started - b0 - b1 - b2 - b3 - b4) * 4000.0 / b5
        else 8000
    end as startup_p95_ms,
    100.0 * stalled_ms / nullif(watched_ms, 0) as rebuffer_pct,
    bitrate_weighted / nullif(bitrate_played_ms, 0) as avg_bitrate_kbps
from with_totals
order by bucket_start
"""
"""QoE of one content per minute (bucket of 1) or per hour (bucket of 60) in [start, end]."""

QOE_COLUMNS = (
    "bucket_start",
    "attempts",
    "playback_failure_pct",
    "startup_p50_ms",
    "startup_p95_ms",
    "rebuffer_pct",
    "avg_bitrate_kbps",
)

ADS_SQL = """
select
    ad_id,
    position,
    ad_format,
    sum(ad_impressions)::bigint as ad_impressions,
    100.0 * sum(ad_q25) / nullif(sum(ad_impressions), 0) as q25_reach_pct,
    100.0 * sum(ad_q50) / nullif(sum(ad_impressions), 0) as q50_reach_pct,
    100.0 * sum(ad_q75) / nullif(sum(ad_impressions), 0) as q75_reach_pct,
    100.0 * sum(ad_q100) / nullif(sum(ad_impressions), 0) as q100_reach_pct,
    100.0 * sum(ad_q100) / nullif(sum(ad_impressions), 0) as ad_completion_rate_pct,
    100.0 * sum(ad_skips) / nullif(sum(ad_impressions), 0) as skip_rate_pct,
    100.0 * sum(ad_clicks) / nullif(sum(ad_impressions), 0) as ctr_pct
from main.ad_placement_daily_performance
where content_id = ? and day between ? and ?
group by ad_id, position, ad_format
order by ad_impressions desc, ad_id, position
"""
"""Per ad and break position in one content over [start, end]: rates recomputed from sums."""

ADS_COLUMNS = (
    "ad_id",
    "position",
    "ad_format",
    "ad_impressions",
    "q25_reach_pct",
    "q50_reach_pct",
    "q75_reach_pct",
    "q100_reach_pct",
    "ad_completion_rate_pct",
    "skip_rate_pct",
    "ctr_pct",
)

LIVE_SESSION_SQL = """
select
    stream_started_at,
    last_minute_start_at,
    stream_minutes,
    views,
    unique_viewers,
    avg_concurrent_viewers,
    peak_concurrent_viewers,
    chat_messages,
    chatters,
    tips
from main.live_sessions
where live_id = ?
"""

LIVE_SESSION_COLUMNS = (
    "stream_started_at",
    "last_minute_start_at",
    "stream_minutes",
    "views",
    "unique_viewers",
    "avg_concurrent_viewers",
    "peak_concurrent_viewers",
    "chat_messages",
    "chatters",
    "tips",
)

LIVE_TIPS_SQL = """
select currency, tips, tips_amount_minor
from main.live_session_tips
where live_id = ?
order by currency
"""


def _day_after(day: date) -> date:
    return day + timedelta(days=1)


def content_list(
    start: date, end: date, creator_id: str | None, content_type: str | None, limit: int
) -> pd.DataFrame:
    """Content with views or story impressions in [start, end], most first."""
    return data.query(
        CONTENT_SQL,
        [start, end, start, end, *twice([creator_id, content_type]), limit],
        columns=CONTENT_COLUMNS,
    )


def one_content(content_id: str, creator_id: str | None, content_type: str | None) -> pd.DataFrame:
    """The row of one content the marts know, if the creator and type filters allow it."""
    return data.query(
        ONE_CONTENT_SQL,
        [content_id, content_id, *twice([creator_id, content_type])],
        columns=CONTENT_COLUMNS,
    )


def playback(content_id: str, start: date, end: date) -> pd.DataFrame:
    """One row: views, unique viewers, completion and watch hours over [start, end]."""
    return data.query(
        PLAYBACK_SQL, [content_id, start, end, content_id, start, end], columns=PLAYBACK_COLUMNS
    )


def retention(content_id: str) -> pd.DataFrame:
    """The VOD or clip retention curve, 0 to 100 % in 5 % steps, over all its views."""
    return data.query(
        RETENTION_SQL,
        [content_id],
        columns=("percent_point", "started_views", "views_reaching", "retention_pct"),
    )


def live_retention(live_id: str) -> pd.DataFrame:
    """Average concurrent viewers and chat messages per minute since the stream began."""
    return data.query(
        LIVE_RETENTION_SQL,
        [live_id],
        columns=(
            "minutes_since_start",
            "minute_start_at",
            "avg_concurrent_viewers",
            "chat_messages",
        ),
    )


def qoe(content_id: str, start: date, end: date, bucket_minutes: int) -> pd.DataFrame:
    """QoE per bucket of `bucket_minutes` (1 or 60) over the UTC days [start, end]."""
    return data.query(
        QOE_SQL,
        [bucket_minutes, bucket_minutes, content_id, start, _day_after(end)],
        columns=QOE_COLUMNS,
    )


def ads(content_id: str, start: date, end: date) -> pd.DataFrame:
    """Per ad and break position in the content over [start, end]."""
    return data.query(ADS_SQL, [content_id, start, end], columns=ADS_COLUMNS)


def live_session(live_id: str) -> pd.DataFrame:
    """The live_sessions row of one stream, or no row."""
    return data.query(LIVE_SESSION_SQL, [live_id], columns=LIVE_SESSION_COLUMNS)


def live_tips(live_id: str) -> pd.DataFrame:
    """Tips during the stream per currency (amounts are never summed across currencies)."""
    return data.query(LIVE_TIPS_SQL, [live_id], columns=("currency", "tips", "tips_amount_minor"))
