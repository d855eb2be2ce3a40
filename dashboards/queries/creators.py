"""Queries of the Creators page: the leaderboard of creators over a period.

Creator-level numbers come from `main.creator_daily_performance` (one row per creator per UTC
day) and tips from `main.creator_daily_tips` (per currency). Numbers that cannot be added up
over days (unique viewers, startup p50) and every view-based number under a content type,
platform or country filter (the creator-day mart has none of those columns) come from the
`playback_sessions` mart, one row per view, aggregated here in SQL with the METRICS.md formulas of
`dbt/macros/view_set_metrics.sql`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from dashboards import data
from dashboards.filters import Filters, twice

LEADERBOARD_SQL = """
select
    creator_id,
    sum(views)::bigint as views,
    coalesce(max(creator_name), creator_id) as creator_name,
    sum(started_views)::bigint as started_views,
    sum(failed_views)::bigint as failed_views,
    sum(watch_time_hours) as watch_hours,
    sum(avg_view_duration_secs * started_views) as played_secs,
    sum(net_followers)::bigint as net_followers,
    sum(valid_reactions + chat_messages + shares)::bigint as engagements
from main.creator_daily_performance
where day between ? and ? and (? is null or creator_id = ?)
group by creator_id
having sum(views) > 0
order by views desc, creator_id
"""
"""Params: start, end, creator twice. `played_secs` is the sum of played time (average view
duration is played time / started views, so the daily averages times their started views add
up); `engagements` the numerator of the engagement rate (valid reactions + chat messages +
shares, as the mart computes engagement_rate_pct)."""

LEADERBOARD_COLUMNS = (
    "creator_id",
    "views",
    "creator_name",
    "started_views",
    "failed_views",
    "watch_hours",
    "played_secs",
    "net_followers",
    "engagements",
)

_FILTERED_VIEWS = """
from main.playback_sessions
where
    view_date between ? and ?
    and (? is null or creator_id = ?)
    and (? is null or content_type = ?)
    and (? is null or platform = ?)
    and (? is null or country = ?)
"""
"""The views of [start, end] that pass the filters. Params: start, end, then
`filters.twice(filters.dimensions)`."""

_VIEW_NUMBERS_SELECT = (
    """
select
    count(*)::bigint as views,
    count(distinct viewer_key)::bigint as unique_viewers,
    sum(case when is_started then 1 else 0 end)::bigint as started_views,
    sum(case when is_failed then 1 else 0 end)::bigint as failed_views,
    sum(watched_ms) / 3600000.0 as watch_hours,
    sum(played_ms) / 1000.0 as played_secs,
    100.0 * sum(case when is_started then stalled_ms else 0 end)
        / nullif(sum(case when is_started then watched_ms else 0 end), 0) as rebuffer_pct,
    quantile_cont(case when is_started then startup_ms end, 0.5) as startup_p50_ms
"""
    + _FILTERED_VIEWS
)
"""The view-based numbers (METRICS.md formulas, as dbt/macros/view_set_metrics.sql computes
them) over the views of [start, end] that pass the filters. Params: start, end, then
`filters.twice(filters.dimensions)`."""

VIEW_NUMBERS_SQL = (
    "select creator_id,"
    + _VIEW_NUMBERS_SELECT.strip().removeprefix("select")
    + " group by creator_id"
)
"""One row per creator with a view."""

VIEW_TOTALS_SQL = "select null as creator_id," + _VIEW_NUMBERS_SELECT.strip().removeprefix("select")
"""One row for all those views together: distinct viewers and the median are not sums of the
creators' values. A query of its own: with `grouping sets` DuckDB took about twice as long."""

VIEW_NUMBERS_COLUMNS = (
    "creator_id",
    "views",
    "unique_viewers",
    "started_views",
    "failed_views",
    "watch_hours",
    "played_secs",
    "rebuffer_pct",
    "startup_p50_ms",
)

DAILY_VIEWS_SQL = """
select creator_id, day, sum(views)::bigint as views
from main.creator_daily_performance
where day between ? and ? and (? is null or creator_id = ?)
group by creator_id, day
"""
"""Params: first day, last day, creator twice."""

DAILY_VIEWS_FILTERED_SQL = (
    """
select creator_id, view_date as day, count(*)::bigint as views
"""
    + _FILTERED_VIEWS
    + """
group by creator_id, view_date
"""
)
"""Params: first day, last day, then `filters.twice(filters.dimensions)`."""

DAILY_VIEWS_COLUMNS = ("creator_id", "day", "views")

TIPS_SQL = """
select
    creator_id,
    currency,
    sum(tips)::bigint as tips,
    sum(tips_amount_minor)::bigint as amount_minor
from main.creator_daily_tips
where day between ? and ? and (? is null or creator_id = ?)
group by creator_id, currency
order by creator_id, tips desc, currency
"""
"""Params: start, end, creator twice. One row per creator and currency: amounts in different
currencies are never added."""

TIPS_COLUMNS = ("creator_id", "currency", "tips", "amount_minor")

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV"}
    | {"XAF", "XOF", "XPF"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
"""ISO 4217 currencies whose minor unit is not a hundredth (`amount_minor` is in minor units)."""

VIEW_BASED_COLUMNS = (
    "views",
    "unique_viewers",
    "watch_hours",
    "avg_view_duration_secs",
    "playback_failure_pct",
    "rebuffer_pct",
    "startup_p50_ms",
)
"""Leaderboard columns computed over views, which follow the content type, platform and
country filters; net followers, engagement rate and tips are the creator's whole day."""


@dataclass(frozen=True)
class Leaderboard:
    """The Creators page's numbers for one period: one row per creator with a view, and the
    same numbers over all those creators together (`totals`)."""

    creators: pd.DataFrame
    totals: dict[str, float | None]


def _ratio(numerator: float, denominator: float, scale: float = 1.0) -> float | None:
    return None if not denominator else scale * float(numerator) / float(denominator)


def is_dimension_filtered(filters: Filters) -> bool:
    """Whether a filter the creator-day mart cannot apply (type, platform, country) is set."""
    return any(v is not None for v in (filters.content_type, filters.platform, filters.country))


def format_tip(currency: str, tips: int, amount_minor: int) -> str:
    """'12 USD 34.50': the count of tips in one currency and their amount."""
    decimals = (
        0
        if currency in ZERO_DECIMAL_CURRENCIES
        else 3
        if currency in THREE_DECIMAL_CURRENCIES
        else 2
    )
    amount = int(amount_minor) / 10**decimals
    return f"{int(tips):,} {currency} {amount:,.{decimals}f}"


def format_tips(rows: pd.DataFrame) -> str:
    """'12 USD 34.50; 3 EUR 5.00': per currency the count of tips and their amount."""
    return "; ".join(
        format_tip(str(currency), tips, amount_minor)
        for currency, tips, amount_minor in rows[["currency", "tips", "amount_minor"]].itertuples(
            index=False
        )
    )


def leaderboard(filters: Filters, start: date, end: date) -> Leaderboard:
    """Every creator with at least one view in [start, end] (after the filters), most views
    first, with the page's columns; the view-based ones follow the type, platform and country
    filters (read from the `playback_sessions` mart then), the others are the creator's whole
    days."""
    creator = twice([filters.creator_id])
    mart = data.query(LEADERBOARD_SQL, [start, end, *creator], columns=LEADERBOARD_COLUMNS)
    view_params = [start, end, *twice(filters.dimensions)]
    per_creator = data.query(VIEW_NUMBERS_SQL, view_params, columns=VIEW_NUMBERS_COLUMNS)
    total_row = data.query(VIEW_TOTALS_SQL, view_params, columns=VIEW_NUMBERS_COLUMNS)
    view_total = total_row.iloc[0] if len(total_row) else None
    engagement_views = mart.set_index("creator_id")["views"]

    if is_dimension_filtered(filters):
        # Every view-based column from the playback_sessions mart; creator-level numbers from the
        # mart.
        creators = per_creator.merge(
            mart[["creator_id", "creator_name", "net_followers", "engagements"]],
            on="creator_id",
            how="left",
        )
        creators["creator_name"] = creators["creator_name"].fillna(creators["creator_id"])
    else:
        creators = mart.merge(
            per_creator[["creator_id", "unique_viewers", "rebuffer_pct", "startup_p50_ms"]],
            on="creator_id",
            how="left",
        )
    creators = creators[creators["views"] > 0].copy()
    creators["avg_view_duration_secs"] = [
        _ratio(played, started)
        for played, started in zip(creators["played_secs"], creators["started_views"], strict=True)
    ]
    creators["playback_failure_pct"] = [
        _ratio(failed, views, 100.0)
        for failed, views in zip(creators["failed_views"], creators["views"], strict=True)
    ]
    # The engagement rate's denominator is all the creator's views, as in the mart, even when
    # the view columns are filtered: engagement has no content type, platform or country.
    creators["engagement_rate_pct"] = [
        _ratio(engaged, engagement_views.get(creator_id, 0), 100.0)
        for creator_id, engaged in zip(
            creators["creator_id"], creators["engagements"].fillna(0), strict=True
        )
    ]
    creators = creators.sort_values(["views", "creator_id"], ascending=[False, True])

    totals: dict[str, float | None] = {
        "creators": float(len(creators)),
        "views": float(creators["views"].sum()),
        "watch_hours": float(creators["watch_hours"].sum()),
        "avg_view_duration_secs": _ratio(
            creators["played_secs"].sum(), creators["started_views"].sum()
        ),
        "net_followers": float(creators["net_followers"].fillna(0).sum()),
        "engagement_rate_pct": _ratio(
            creators["engagements"].fillna(0).sum(),
            float(engagement_views.reindex(creators["creator_id"]).fillna(0).sum()),
            100.0,
        ),
        "playback_failure_pct": _ratio(
            creators["failed_views"].sum(), creators["views"].sum(), 100.0
        ),
        "unique_viewers": None if view_total is None else float(view_total["unique_viewers"]),
        "rebuffer_pct": None if view_total is None else _float(view_total["rebuffer_pct"]),
        "startup_p50_ms": None if view_total is None else _float(view_total["startup_p50_ms"]),
    }
    return Leaderboard(creators.reset_index(drop=True), totals)


def _float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def daily_views(filters: Filters, first_day: date, last_day: date) -> pd.DataFrame:
    """Views per creator per day in [first_day, last_day], from the creator-day mart, or from
    the `playback_sessions` mart when a type, platform or country filter is set."""
    if is_dimension_filtered(filters):
        return data.query(
            DAILY_VIEWS_FILTERED_SQL,
            [first_day, last_day, *twice(filters.dimensions)],
            columns=DAILY_VIEWS_COLUMNS,
        )
    return data.query(
        DAILY_VIEWS_SQL,
        [first_day, last_day, *twice([filters.creator_id])],
        columns=DAILY_VIEWS_COLUMNS,
    )


def tips_by_creator(filters: Filters, start: date, end: date) -> dict[str, str]:
    """creator_id -> its tips per currency as text ('12 USD 34.50; 3 EUR 5.00')."""
    tips = data.query(TIPS_SQL, [start, end, *twice([filters.creator_id])], columns=TIPS_COLUMNS)
    # One pass over the rows (ordered by creator, then most tips first): a group-by per
    # creator cost more than the page's queries.
    parts: dict[str, list[str]] = {}
    for creator_id, currency, count, amount_minor in tips[list(TIPS_COLUMNS)].itertuples(
        index=False
    ):
        parts.setdefault(str(creator_id), []).append(format_tip(str(currency), count, amount_minor))
    return {creator_id: "; ".join(texts) for creator_id, texts in parts.items()}


def sparklines(
    daily: pd.DataFrame, creator_ids: list[str], start: date, end: date
) -> list[list[int]]:
    """Per creator, its views on each day of [start, end] (0 on a day without views)."""
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    by_key = {
        (str(creator_id), day): int(views)
        for creator_id, day, views in zip(
            daily["creator_id"].tolist(),
            pd.to_datetime(daily["day"]).dt.date.tolist(),
            daily["views"].tolist(),
            strict=True,
        )
    }
    return [[by_key.get((creator_id, day), 0) for day in days] for creator_id in creator_ids]
