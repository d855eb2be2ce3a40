"""The "Clips from live sessions" sections of the Creator and Content pages.

Per live session, from `main.live_session_clips`: the clips cut from it (the catalogue's
`source_live_id`) and their views, distinct viewers and watch time within 7 days of the
session's first minute. On a clip's Content page, a link to the live it was cut from. The
numbers are per live session whatever the platform or country filter.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from dashboards import components, navigation
from dashboards.definitions import definition
from dashboards.queries import live_clips as queries

LABELS = {
    "title": "Live stream",
    "stream_date": "Date",
    "clips": "Clips",
    "clips_viewed": "Clips viewed",
    "clip_views": "Clip views (7 days)",
    "clip_unique_viewers": "Clip viewers (7 days)",
    "clip_watch_time_hours": "Clip watch hours (7 days)",
}
COLUMN_CONFIG = {
    "Date": st.column_config.DateColumn(format="YYYY-MM-DD"),
    "Clips": st.column_config.NumberColumn(help=definition("clips_from_live")),
    "Clips viewed": st.column_config.NumberColumn(help=definition("clips_viewed")),
    "Clip views (7 days)": st.column_config.NumberColumn(help=definition("clip_views")),
    "Clip viewers (7 days)": st.column_config.NumberColumn(help=definition("clip_unique_viewers")),
    "Clip watch hours (7 days)": st.column_config.NumberColumn(
        format="%.2f", help=definition("clip_watched_ms")
    ),
}
MISSING = "The serving warehouse has no live_session_clips table yet: clips cannot be shown."


def show_creator_clips(
    creator_id: str, name: str, start: date, end: date, content_type: str | None
) -> None:
    """The creator's live sessions of the period that clips were cut from."""
    st.subheader("Clips from live sessions")
    if content_type not in (None, "live", "clip"):
        st.caption("Hidden by the content type filter.")
        return
    if not queries.available():
        st.caption(MISSING)
        return
    rows = queries.creator_clips(creator_id, start, end)
    if rows.empty:
        st.info(f"No clip was cut from {name}'s live sessions from {start} to {end}.")
        return
    st.caption(
        "Per live session started in the period: its clips' views that start within 7 days "
        "of the session's first minute, and distinct viewers across all its clips."
    )
    st.dataframe(components.readable(rows, LABELS), hide_index=True, column_config=COLUMN_CONFIG)


def show_live_clips(live_id: str) -> None:
    """A live stream's clips: the 7-day numbers and a link to each clip."""
    st.subheader("Clips from this live session")
    if not queries.available():
        st.caption(MISSING)
        return
    session = queries.live_clips(live_id)
    clips = queries.clips_of_live(live_id)
    if clips.empty:
        st.info("No clip was cut from this live stream (catalogue source_live_id).")
        return
    if session.empty:
        st.info("This stream has no live session yet, so its clips' views are not counted.")
    else:
        row = session.iloc[0]
        st.caption(
            f"Views starting from {row['stream_started_at']:%Y-%m-%d %H:%M} to "
            f"{row['clip_window_ends_at']:%Y-%m-%d %H:%M} UTC (7 days)."
        )
        metrics = [
            ("Clips", "clips", "{:,.0f}", "clips_from_live"),
            ("Clip views", "clip_views", "{:,.0f}", "clip_views"),
            ("Clip viewers", "clip_unique_viewers", "{:,.0f}", "clip_unique_viewers"),
            ("Clip watch hours", "clip_watch_time_hours", "{:,.2f}", "clip_watched_ms"),
        ]
        for column, (label, name, value_format, docs_name) in zip(
            st.columns(len(metrics)), metrics, strict=True
        ):
            value = row[name]
            components.show_metric(
                column,
                label,
                None if pd.isna(value) else float(value),
                value_format,
                definition_name=docs_name,
            )
    for clip_id, title in clips.itertuples(index=False):
        st.page_link(
            navigation.page_path("content"),
            label=f"Clip: {title}",
            query_params={"content": str(clip_id)},
        )


def show_clip_source(clip_id: str) -> None:
    """On a clip's page: the live stream it was cut from, if the catalogue names one."""
    source = queries.clip_source(clip_id) if queries.available() else pd.DataFrame()
    if source.empty:
        return
    live_id, live_title = source.iloc[0]
    st.page_link(
        navigation.page_path("content"),
        label=f"Cut from the live stream: {live_title}",
        query_params={"content": str(live_id)},
    )
