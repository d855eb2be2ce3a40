"""The "Live latency" section of a live stream's Content page.

From the published marts: the whole session's p50 and p95 of `live_latency_ms` over all its
heartbeats that carried one (`live_sessions`; not an average of minutes), and the two
percentiles per UTC minute (`live_minute_latency`), charted over the stream. The numbers are
per stream whatever the platform or country filter.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import components
from dashboards.definitions import definition
from dashboards.queries import live_latency as queries

CHART_HEIGHT_PX = 260
MISSING = "The serving warehouse has no live_minute_latency table yet: latency cannot be shown."


def _value(frame: pd.DataFrame, name: str) -> float | None:
    if frame.empty or pd.isna(frame[name].iloc[0]):
        return None
    return float(frame[name].iloc[0])


def show_live_latency(live_id: str) -> None:
    """Session percentiles as headline numbers, then the per-minute chart."""
    st.subheader("Live latency")
    if not queries.available():
        st.caption(MISSING)
        return
    session = queries.session_latency(live_id)
    if _value(session, "latency_heartbeats") in (None, 0.0):
        st.info(
            "No heartbeat of this stream reported a live latency (`live_latency_ms`, or "
            "CMCD `ltc`)."
        )
        return
    columns = st.columns(3)
    components.show_metric(
        columns[0], "Live latency p50 (s)", _seconds(session, "live_latency_p50_ms"), "{:,.2f}",
        definition_name="live_latency_p50_ms", lower_is_better=True,
    )  # fmt: skip
    components.show_metric(
        columns[1], "Live latency p95 (s)", _seconds(session, "live_latency_p95_ms"), "{:,.2f}",
        definition_name="live_latency_p95_ms", lower_is_better=True,
    )  # fmt: skip
    components.show_metric(
        columns[2], "Heartbeats with a latency", _value(session, "latency_heartbeats"),
        "{:,.0f}", definition_name="live_latency_heartbeats",
    )  # fmt: skip
    minutes = queries.minute_latency(live_id)
    if minutes.empty:
        return
    long = minutes.melt(
        id_vars=["minute_start_at"],
        value_vars=["live_latency_p50_ms", "live_latency_p95_ms"],
        var_name="percentile",
        value_name="latency_ms",
    )
    long["percentile"] = long["percentile"].map(
        {"live_latency_p50_ms": "p50", "live_latency_p95_ms": "p95"}
    )
    chart = (
        alt.Chart(long, title="Live latency per minute (ms)")
        .mark_line(point=True)
        .encode(
            x=alt.X("minute_start_at:T", title="Minute (UTC)", scale=alt.Scale(type="utc")),
            y=alt.Y("latency_ms:Q", title="Live latency (ms)"),
            color=alt.Color("percentile:N", title="Percentile"),
            tooltip=[
                alt.Tooltip("minute_start_at:T", title="UTC", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("percentile:N", title="Percentile"),
                alt.Tooltip("latency_ms:Q", title="Latency (ms)", format=",.0f"),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )
    st.altair_chart(chart, width="stretch")
    st.caption(definition("live_latency_p50_ms") + " " + definition("live_latency_p95_ms"))


def _seconds(frame: pd.DataFrame, name: str) -> float | None:
    value = _value(frame, name)
    return None if value is None else value / 1000
