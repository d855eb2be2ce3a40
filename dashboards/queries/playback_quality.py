"""Queries of the Playback quality page, over `main.playback_sessions`,
`main.dimension_daily_qoe` and `main.dimension_minute_qoe`.

Every QoE metric here is METRICS.md "QoE over a set of views" as the dbt macro
`view_set_metrics()` computes it (failure, VSF and EBVS over views; startup percentiles over
started views, `quantile_cont`, linear interpolation; rebuffer over started views' watched
time; bitrate over played time). Percentiles cannot be re-aggregated from daily rows, so the
numbers of a period (headline, breakdown, offenders) come from the `playback_sessions` mart, one row
per view, aggregated in SQL. The series over time read the dimension marts, whose rows are exact
per day or minute, when no filter other than the period is set; with a creator, type,
platform or country filter they come from `playback_sessions` grouped the same way.

The breakdown dimension is a parameter (`$n`, one of DIMENSIONS), chosen in SQL by a `case`,
never spliced into the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

import pandas as pd

from dashboards import data
from dashboards.filters import Filters

DIMENSIONS: dict[str, str] = {
    "content_type": "Content type",
    "platform": "Platform",
    "country": "Country",
    "app_version": "App version",
    "os": "OS",
    "device": "Device",
}
"""The breakdown dimensions of `dimension_daily_qoe`, in the order the page offers them."""

FOLDED_DIMENSIONS = ("app_version", "os", "device")
TOP_VALUES = 20
"""As the marts (`marquee_qoe_top_values`): app version, OS and device values outside the
period's 20 with the most views report as `other`."""

DRILL_DOWN_LIMIT = 500

Grain = Literal["day", "minute"]
ViewKind = Literal["all", "failed", "vsf", "ebvs", "rebuffered"]

METRIC_COLUMNS = (
    "views",
    "started_views",
    "failed_views",
    "playback_failure_pct",
    "vsf_pct",
    "ebvs_pct",
    "startup_p50_ms",
    "startup_p95_ms",
    "rebuffer_pct",
    "avg_bitrate_kbps",
)

_VIEWS_IN_FILTERS = """
from main.playback_sessions
where view_date between $1 and $2
    and ($3 is null or creator_id = $3)
    and ($4 is null or content_type = $4)
    and ($5 is null or platform = $5)
    and ($6 is null or country = $6)
"""
"""The views every query here starts from: the period ($1, $2) and the filters ($3 creator,
$4 content type, $5 platform, $6 country)."""

_VIEW_SET_METRICS = """
    count(*) as views,
    count(*) filter (where is_started) as started_views,
    count(*) filter (where is_failed) as failed_views,
    100.0 * count(*) filter (where is_failed) / nullif(count(*), 0) as playback_failure_pct,
    100.0 * count(*) filter (where is_vsf) / nullif(count(*), 0) as vsf_pct,
    100.0 * count(*) filter (where is_ebvs) / nullif(count(*), 0) as ebvs_pct,
    quantile_cont(case when is_started then startup_ms end, 0.5) as startup_p50_ms,
    quantile_cont(case when is_started then startup_ms end, 0.95) as startup_p95_ms,
    100.0 * sum(case when is_started then stalled_ms else 0 end)
        / nullif(sum(case when is_started then watched_ms else 0 end), 0) as rebuffer_pct,
    sum(bitrate_weighted) / nullif(sum(played_ms), 0) as avg_bitrate_kbps
"""
"""view_set_metrics() of dbt/macros/view_set_metrics.sql, the columns this page shows."""

# $1, $2: first and last UTC day; $3-$6: creator, content type, platform, country (null:
# all); $7: the breakdown dimension. The fold ranks the period's values, as the marts rank a
# day's.
_FOLDED_VIEWS = (
    """
with filtered as (
    select
        *,
        coalesce(case $7
            when 'content_type' then content_type
            when 'platform' then platform
            when 'country' then country
            when 'app_version' then app_version
            when 'os' then os
            when 'device' then device
        end, 'unknown') as raw_value
"""
    + _VIEWS_IN_FILTERS
    + """
),

ranked as (
    select raw_value, row_number() over (order by count(*) desc, raw_value) as value_rank
    from filtered
    where raw_value <> 'other'
    group by raw_value
),

folded as (
    select
        filtered.*,
        case
            when $7 in ('app_version', 'os', 'device')
                and coalesce(ranked.value_rank, 0) not between 1 and """
    + str(TOP_VALUES)
    + """
            then 'other'
            else filtered.raw_value
        end as dimension_value
    from filtered
    left join ranked using (raw_value)
)
"""
)

HEADLINE_SQL = (
    """
select """
    + _VIEW_SET_METRICS
    + _VIEWS_IN_FILTERS
)

BREAKDOWN_SQL = (
    _FOLDED_VIEWS
    + """
select dimension_value, """
    + _VIEW_SET_METRICS
    + """
from folded
group by dimension_value
order by views desc, dimension_value
"""
)

# $8: 'day' or 'minute'.
SERIES_FROM_VIEWS_SQL = (
    _FOLDED_VIEWS
    + """
select
    case when $8 = 'minute' then date_trunc('minute', view_started_at)
        else view_date::timestamp end as period_start,
    dimension_value, """
    + _VIEW_SET_METRICS
    + """
from folded
group by all
order by period_start, dimension_value
"""
)

_MART_SERIES_COLUMNS = """
    dimension_value, views, started_views, failed_views, playback_failure_pct, vsf_pct,
    ebvs_pct, startup_p50_ms, startup_p95_ms, rebuffer_pct, avg_bitrate_kbps
"""

DAILY_SERIES_SQL = (
    """
select view_date::timestamp as period_start, """
    + _MART_SERIES_COLUMNS
    + """
from main.dimension_daily_qoe
where view_date between $1 and $2 and dimension = $3
order by period_start, dimension_value
"""
)

MINUTE_SERIES_SQL = (
    """
select minute_start_at as period_start, """
    + _MART_SERIES_COLUMNS
    + """
from main.dimension_minute_qoe
where view_date between $1 and $2 and dimension = $3
order by period_start, dimension_value
"""
)

# $7: the minimum number of views; $8: 'failure' or 'rebuffer', what ranks first. The ten
# worst are ranked on numbers alone; their names are read for those ten only (the string
# maxima over every content's views cost most of the query).
WORST_CONTENT_SQL = (
    """
with per_content as (
select
    content_id,
    count(*) as views,
    100.0 * count(*) filter (where is_failed) / nullif(count(*), 0) as playback_failure_pct,
    100.0 * sum(case when is_started then stalled_ms else 0 end)
        / nullif(sum(case when is_started then watched_ms else 0 end), 0) as rebuffer_pct
"""
    + _VIEWS_IN_FILTERS
    + """
group by content_id
having count(*) >= $7
),

worst as (
select *
from per_content
order by
    case when $8 = 'rebuffer' then rebuffer_pct else playback_failure_pct end desc nulls last,
    views desc,
    content_id
limit 10
),

names as (
select
    content_id,
    coalesce(max(content_title), content_id) as content_title,
    max(content_type) as content_type,
    coalesce(max(creator_name), max(creator_id)) as creator_name
"""
    + _VIEWS_IN_FILTERS
    + """
    and content_id in (select content_id from worst)
group by content_id
)

select
    worst.content_id, names.content_title, names.content_type, names.creator_name,
    worst.views, worst.playback_failure_pct, worst.rebuffer_pct
from worst
join names using (content_id)
order by
    case when $8 = 'rebuffer' then worst.rebuffer_pct else worst.playback_failure_pct end
        desc nulls last,
    worst.views desc,
    worst.content_id
"""
)

WORST_CONTENT_COLUMNS = (
    "content_id",
    "content_title",
    "content_type",
    "creator_name",
    "views",
    "playback_failure_pct",
    "rebuffer_pct",
)
"""Only what ranks the offenders: per-content percentiles would cost a sort per content."""

# $8: a dimension value (null: any); $9: a content id (null: any); $10: which views; $11: limit.
DRILL_DOWN_SQL = (
    _FOLDED_VIEWS
    + """
select
    session_id,
    coalesce(content_title, content_id) as content_title,
    content_id,
    creator_name,
    platform,
    country,
    app_version,
    os,
    device,
    view_started_at,
    startup_ms,
    played_ms,
    stalled_ms,
    is_failed,
    is_vsf,
    is_ebvs,
    end_reason,
    count(*) over () as matching_views
from folded
where ($8 is null or dimension_value = $8)
    and ($9 is null or content_id = $9)
    and case $10
        when 'failed' then is_failed
        when 'vsf' then is_vsf
        when 'ebvs' then is_ebvs
        when 'rebuffered' then is_started and stalled_ms > 0
        else true
    end
order by view_started_at desc, session_id
limit $11
"""
)

DRILL_DOWN_COLUMNS = (
    "session_id",
    "content_title",
    "content_id",
    "creator_name",
    "platform",
    "country",
    "app_version",
    "os",
    "device",
    "view_started_at",
    "startup_ms",
    "played_ms",
    "stalled_ms",
    "is_failed",
    "is_vsf",
    "is_ebvs",
    "end_reason",
    "matching_views",
)


def _filter_params(filters: Filters, start: date, end: date) -> list[Any]:
    return [start, end, filters.creator_id, filters.content_type, filters.platform, filters.country]


def headline(filters: Filters, start: date, end: date) -> pd.DataFrame:
    """One row: the QoE of every view in [start, end] that the filters keep."""
    return data.query(HEADLINE_SQL, _filter_params(filters, start, end), columns=METRIC_COLUMNS)


def breakdown(filters: Filters, dimension: str) -> pd.DataFrame:
    """One row per value of `dimension` over the filter period, most views first."""
    params = [*_filter_params(filters, filters.start, filters.end), _checked(dimension)]
    return data.query(BREAKDOWN_SQL, params, columns=("dimension_value", *METRIC_COLUMNS))


def series(filters: Filters, dimension: str, grain: Grain) -> pd.DataFrame:
    """QoE per day (or minute of view start) and value of `dimension`: from the dimension
    marts when only the period is filtered, else from `playback_sessions`."""
    columns = ("period_start", "dimension_value", *METRIC_COLUMNS)
    if only_period(filters):
        sql = MINUTE_SERIES_SQL if grain == "minute" else DAILY_SERIES_SQL
        return data.query(sql, [filters.start, filters.end, _checked(dimension)], columns=columns)
    params = [*_filter_params(filters, filters.start, filters.end), _checked(dimension), grain]
    return data.query(SERIES_FROM_VIEWS_SQL, params, columns=columns)


def worst_content(filters: Filters, min_views: int, rank_by: str) -> pd.DataFrame:
    """The ten contents with at least `min_views` views and the highest failure % (or
    rebuffer %) over the filter period, with their views, failure % and rebuffer %."""
    params = [
        *_filter_params(filters, filters.start, filters.end),
        min_views,
        rank_by,
    ]
    return data.query(
        WORST_CONTENT_SQL,
        params,
        columns=WORST_CONTENT_COLUMNS,
    )


def drill_down(
    filters: Filters,
    dimension: str,
    dimension_value: str | None,
    content_id: str | None,
    kind: ViewKind,
    limit: int = DRILL_DOWN_LIMIT,
) -> pd.DataFrame:
    """The views behind a number, newest first, at most `limit`; `matching_views` is how many
    views match in all."""
    params: Sequence[Any] = [
        *_filter_params(filters, filters.start, filters.end),
        _checked(dimension),
        dimension_value,
        content_id,
        kind,
        limit,
    ]
    return data.query(DRILL_DOWN_SQL, params, columns=DRILL_DOWN_COLUMNS)


def only_period(filters: Filters) -> bool:
    """Whether no filter other than the period is set (the dimension marts then apply)."""
    return all(value is None for value in filters.dimensions)


def _checked(dimension: str) -> str:
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown QoE dimension {dimension!r}")
    return dimension
