"""Creators page: the leaderboard of creators over the filter period.

One row per creator with a view in the period, most views first, from
`main.creator_daily_performance` (one row per creator per UTC day): views, unique viewers,
watch hours, average view duration, net followers, engagement rate, tips per currency
(`main.creator_daily_tips`, never added across currencies), the QoE headline (playback
failure %, rebuffer %, startup p50), the change in views against the previous period of the
same length (week over week for the 7-day period) and a sparkline of daily views.

Unique viewers, rebuffer % and startup p50 are computed over the period's rows of the
`playback_sessions` mart (distinct viewers and a median cannot be added up from daily rows). Under a
content type, platform or country filter every view-based column comes from the `playback_sessions`
mart, which has those columns; net followers, engagement rate and tips stay the creator's whole
days. Each row links to the Creator page of that creator, with the same filters. The table draws
the 100 creators with the most views; the CSV export has every creator. Below it,
impressions and click-through per surface (`dashboards.impressions`).
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from dashboards import components, data, filters, impressions
from dashboards.definitions import definition
from dashboards.queries import creators as creator_queries

LABELS = {
    "creator_name": "Creator",
    "creator_id": "Creator id",
    "views": "Views",
    "views_change_pct": "Views change %",
    "unique_viewers": "Unique viewers",
    "watch_hours": "Watch hours",
    "avg_view_duration_secs": "Avg view duration (s)",
    "net_followers": "Net followers",
    "engagement_rate_pct": "Engagement rate %",
    "tips": "Tips per currency",
    "playback_failure_pct": "Playback failure %",
    "rebuffer_pct": "Rebuffer %",
    "startup_p50_ms": "Startup p50 (ms)",
}
CREATOR_URL_PATH = "creator"  # navigation.PAGES' url_path of the Creator page
SHOWN_ROWS = 100
# The table draws the creators with the most views; the CSV has them all. A thousand rows with
# sparklines cost more to send and draw than the page's queries, and nobody reads past the top.
# Table and CSV column labels (the CSV has no sparkline and no link).

HEADLINE = [
    # (key, label, format, docs block, lower is better)
    ("creators", "Creators", "{:,.0f}", None, False),
    ("views", "Views", "{:,.0f}", "views", False),
    ("unique_viewers", "Unique viewers", "{:,.0f}", "unique_viewers", False),
    ("watch_hours", "Watch hours", "{:,.2f}", "watch_time_hours", False),
    ("avg_view_duration_secs", "Avg view duration", "{:,.1f} s", "avg_view_duration_secs", False),
    ("net_followers", "Net followers", "{:+,.0f}", "net_followers", False),
    ("engagement_rate_pct", "Engagement rate", "{:.2f} %", "engagement_rate_pct", False),
    ("playback_failure_pct", "Playback failure", "{:.2f} %", "playback_failure_pct", True),
    ("rebuffer_pct", "Rebuffer", "{:.2f} %", "rebuffer_pct", True),
    ("startup_p50_ms", "Startup p50", "{:,.0f} ms", "startup_p50_ms", True),
]


def _filter_note(current: filters.Filters) -> str | None:
    """Which columns follow a type, platform or country filter, or None when none is set."""
    if not creator_queries.is_dimension_filtered(current):
        return None
    chosen = [
        f"{name} {value}"
        for name, value in (
            ("type", current.content_type),
            ("platform", current.platform),
            ("country", current.country),
        )
        if value is not None
    ]
    return (
        f"Filtered to {', '.join(chosen)}: views, unique viewers, watch hours, average view "
        "duration, views change, sparklines and the QoE columns count only those views (from "
        "the playback_sessions mart). Net followers, engagement rate (over all the creator's "
        "views) and tips are the creator's whole days: they have no content type, platform or "
        "country."
    )


def _views_change(daily: pd.DataFrame, creators: pd.DataFrame, start: date) -> list[float | None]:
    """Per creator, the change of its views against the previous period (rows before start)."""
    earlier = daily[pd.to_datetime(daily["day"]).dt.date < start]
    previous = earlier.groupby("creator_id")["views"].sum()
    return [
        components.change_pct(float(views), float(previous.get(creator_id, 0)))
        for creator_id, views in zip(creators["creator_id"], creators["views"], strict=True)
    ]


def _query_params_with(creator_id: str) -> dict[str, list[str]]:
    """The current filters as query parameters (raw values, which the sidebar accepts on a
    page's first load) with `creator` set, for a link to the Creator page."""
    params: dict[str, list[str]] = {}
    preset = st.session_state.get("range")
    if preset not in (None, filters.DEFAULT_PRESET):
        params["range"] = [str(preset)]
    if preset == "custom":
        params["days"] = [current.start.isoformat(), current.end.isoformat()]
    if current.compare:
        params["compare"] = ["true"]
    params["creator"] = [creator_id]
    for key, value in (
        ("type", current.content_type),
        ("platform", current.platform),
        ("country", current.country),
    ):
        if value is not None:
            params[key] = [value]
    return params


def _creator_url(creator_id: str) -> str:
    """A relative link to the Creator page of `creator_id`, keeping the other filters."""
    return f"{CREATOR_URL_PATH}?{urlencode(_query_params_with(creator_id), doseq=True)}"


st.title("Creators")
status = components.require_data()
current = filters.current()
st.caption(components.freshness_caption(status.newest_minute_utc))

try:
    board = creator_queries.leaderboard(current, current.start, current.end)
except data.ServingUnavailableError as error:
    st.warning(f"{components.UNAVAILABLE_MESSAGE} ({error})")
    st.stop()

period = f"{current.start:%Y-%m-%d} to {current.end:%Y-%m-%d}"
if board.creators.empty:
    st.info(
        f"No creator has a view from {period} with these filters. Widen the period or clear "
        "the creator, content type, platform or country filter in the sidebar."
    )
    st.stop()

previous_totals = None
if current.compare:
    previous_totals = creator_queries.leaderboard(current, *current.previous).totals
    st.caption(
        f"Changes compare {period} with {current.previous[0]:%Y-%m-%d} to "
        f"{current.previous[1]:%Y-%m-%d}."
    )
for row in (HEADLINE[:5], HEADLINE[5:]):
    for column, (key, label, value_format, docs_name, lower_is_better) in zip(
        st.columns(len(row)), row, strict=True
    ):
        components.show_metric(
            column,
            label,
            board.totals[key],
            value_format,
            previous=None if previous_totals is None else previous_totals[key],
            definition_name=docs_name,
            lower_is_better=lower_is_better,
        )

note = _filter_note(current)
if note:
    st.caption(note)

table = board.creators
prev_start = current.previous[0]
daily = creator_queries.daily_views(current, prev_start, current.end)
table["views_change_pct"] = _views_change(daily, table, current.start)
tips = creator_queries.tips_by_creator(current, current.start, current.end)
table["tips"] = [tips.get(str(creator_id), "") for creator_id in table["creator_id"]]
drawn = table.head(SHOWN_ROWS).copy()
drawn["daily_views"] = creator_queries.sparklines(
    daily, [str(c) for c in drawn["creator_id"]], current.start, current.end
)
drawn["page"] = [_creator_url(str(creator_id)) for creator_id in drawn["creator_id"]]

st.subheader("Leaderboard")
if len(table) > SHOWN_ROWS:
    which = (
        f"The {SHOWN_ROWS} creators with the most views from {period}, of {len(table):,} with a "
        "view (Download CSV has every one)."
    )
else:
    which = f"Every creator with a view from {period}."
st.caption(
    f"{which} Click a column header to sort; Open shows the creator's page. Views change "
    f"compares with {current.previous[0]:%Y-%m-%d} to {current.previous[1]:%Y-%m-%d}; "
    "sparklines show views per UTC day."
)
shown = [
    "creator_name",
    "page",
    "views",
    "views_change_pct",
    "daily_views",
    *[
        key
        for key in LABELS
        if key not in ("creator_name", "creator_id", "views", "views_change_pct")
    ],
]
st.dataframe(
    drawn,
    hide_index=True,
    column_order=shown,
    column_config={
        "creator_name": st.column_config.TextColumn(LABELS["creator_name"], pinned=True),
        "page": st.column_config.LinkColumn(
            "Page", display_text="Open", help="The creator's page, in a new tab."
        ),
        "views": st.column_config.NumberColumn(
            LABELS["views"], format="localized", help=definition("views")
        ),
        "views_change_pct": st.column_config.NumberColumn(
            LABELS["views_change_pct"], format="%+.1f", help=definition("period_change_pct")
        ),
        "daily_views": st.column_config.LineChartColumn(
            "Daily views", help="Views per UTC day of the period.", y_min=0
        ),
        "unique_viewers": st.column_config.NumberColumn(
            LABELS["unique_viewers"], format="localized", help=definition("unique_viewers")
        ),
        "watch_hours": st.column_config.NumberColumn(
            LABELS["watch_hours"], format="%.2f", help=definition("watch_time_hours")
        ),
        "avg_view_duration_secs": st.column_config.NumberColumn(
            LABELS["avg_view_duration_secs"],
            format="%.1f",
            help=definition("avg_view_duration_secs"),
        ),
        "net_followers": st.column_config.NumberColumn(
            LABELS["net_followers"], format="%+d", help=definition("net_followers")
        ),
        "engagement_rate_pct": st.column_config.NumberColumn(
            LABELS["engagement_rate_pct"], format="%.2f", help=definition("engagement_rate_pct")
        ),
        "tips": st.column_config.TextColumn(LABELS["tips"], help=definition("tips")),
        "playback_failure_pct": st.column_config.NumberColumn(
            LABELS["playback_failure_pct"],
            format="%.2f",
            help=definition("playback_failure_pct"),
        ),
        "rebuffer_pct": st.column_config.NumberColumn(
            LABELS["rebuffer_pct"], format="%.2f", help=definition("rebuffer_pct")
        ),
        "startup_p50_ms": st.column_config.NumberColumn(
            LABELS["startup_p50_ms"], format="%.0f", help=definition("startup_p50_ms")
        ),
    },
)
components.csv_download(table, LABELS, file_name=f"creators_{current.start}_{current.end}.csv")

impressions.show_creators_impressions(current.start, current.end, current.creator_id)
