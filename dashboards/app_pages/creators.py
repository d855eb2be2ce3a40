"""Creators page: views and watch time per creator over a range of UTC days.

Reads `main.creator_daily_performance` (one row per creator per UTC day) through
`dashboards.data`: headline totals, a bar chart of the top creators by views, and a table of
every creator with views in the range. A view is a playback session, on the UTC day of its
start, as in every mart (METRICS.md); started and failed views are among those. Watch hours
are CTA-2066 watched time of those views (the metric spec's "watch time") in hours. The day
span and the freshness caption come from `main.content_daily`.
"""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import components, data
from dashboards.queries import creators as creator_queries

TOP_N = 20
DEFAULT_RANGE_DAYS = 7
BAR_STEP_PX = 30


def _picked_range(picked: object, fallback: tuple[date, date]) -> tuple[date, date]:
    """The (start, end) of the date input; while only a start is picked, that single day."""
    if isinstance(picked, date):
        return picked, picked
    if isinstance(picked, tuple | list):
        days = [day for day in picked if isinstance(day, date)]
        if len(days) >= 2:
            return min(days[0], days[1]), max(days[0], days[1])
        if len(days) == 1:
            return days[0], days[0]
    return fallback


def _views_chart(top: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(top, title=f"Views per creator (top {TOP_N})")
        .mark_bar()
        .encode(
            x=alt.X("views:Q", title="Views"),
            y=alt.Y("creator_id:N", sort="-x", title="Creator"),
            tooltip=[
                alt.Tooltip("creator_id:N", title="Creator"),
                alt.Tooltip("views:Q", title="Views", format=","),
                alt.Tooltip("watch_hours:Q", title="Watch hours", format=",.2f"),
            ],
        )
        .properties(height=alt.Step(BAR_STEP_PX))
    )


st.title("Creators")
status = components.require_data()
assert status.first_day is not None and status.last_day is not None

default_range = (
    max(status.first_day, status.last_day - timedelta(days=DEFAULT_RANGE_DAYS - 1)),
    status.last_day,
)
with st.sidebar:
    picked = st.date_input(
        "UTC days",
        value=default_range,
        min_value=status.first_day,
        max_value=status.last_day,
        format="YYYY-MM-DD",
        help="Both ends included. Defaults to the last seven days with data.",
    )
    st.button("Refresh", help="Read the newest published warehouse.")
start, end = _picked_range(picked, default_range)

st.caption(components.freshness_caption(status.newest_minute_utc))

try:
    totals = creator_queries.creator_totals(start, end)
except data.ServingUnavailableError as error:
    st.warning(f"{components.UNAVAILABLE_MESSAGE} ({error})")
    st.stop()

if totals.empty:
    st.info(f"No views between {start:%Y-%m-%d} and {end:%Y-%m-%d}.")
    st.stop()

creators_col, views_col, hours_col, started_col, failed_col = st.columns(5)
creators_col.metric("Creators", f"{len(totals):,}")
views_col.metric(
    "Views",
    f"{int(totals['views'].sum()):,}",
    help="Playback sessions, each on the UTC day it started (a retried play request is one view).",
)
hours_col.metric("Watch hours", f"{float(totals['watch_hours'].sum()):,.2f}")
started_col.metric("Started views", f"{int(totals['started_views'].sum()):,}")
failed_col.metric("Failed views", f"{int(totals['failed_views'].sum()):,}")

st.altair_chart(_views_chart(totals.head(TOP_N)), width="stretch")

st.subheader("All creators")
st.dataframe(
    totals,
    hide_index=True,
    column_config={
        "creator_id": st.column_config.TextColumn("Creator"),
        "views": st.column_config.NumberColumn("Views", format="localized"),
        "watch_hours": st.column_config.NumberColumn("Watch hours", format="%.2f"),
        "started_views": st.column_config.NumberColumn("Started views", format="localized"),
        "failed_views": st.column_config.NumberColumn("Failed views", format="localized"),
    },
)
