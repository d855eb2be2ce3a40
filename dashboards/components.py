"""Pieces every dashboard page shares: the empty state, the freshness caption, number formats."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from dashboards import data

EMPTY_STATE_MESSAGE = (
    "No data yet. The dashboards read the serving warehouse, which appears after the first "
    "pipeline run and dbt build (about a minute after events start arriving). "
    "This page checks again every {seconds} seconds."
)
NO_TABLE_MESSAGE = (
    "The serving warehouse has no table main.content_daily or main.creator_daily_performance "
    "yet. "
    "Check that the dbt build includes it."
)
UNAVAILABLE_MESSAGE = "The serving warehouse could not be read; reload in a moment."
EMPTY_STATE_POLL_S = 10


def format_age(seconds: float) -> str:
    """A short human age: '45 s', '3 min', '2 h 5 min', '3 d 4 h'."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def freshness_caption(newest_minute_utc: datetime | None, now: datetime | None = None) -> str:
    if newest_minute_utc is None:
        return "Newest data minute: unknown."
    now = now or datetime.now(UTC)
    age = (now - newest_minute_utc).total_seconds()
    return (
        f"Newest data minute: {newest_minute_utc:%Y-%m-%d %H:%M} UTC "
        f"({format_age(age)} ago). Days are UTC days."
    )


@st.fragment(run_every=EMPTY_STATE_POLL_S)
def _wait_for_data() -> None:
    """Poll while there is nothing to show, and rerun the whole page once data arrives."""
    try:
        status = data.serving_status()
    except data.ServingUnavailableError as error:
        st.warning(f"{UNAVAILABLE_MESSAGE} ({error})")
        return
    if status.state == "ready":
        st.rerun(scope="app")
    if status.state == "no_table":
        st.warning(NO_TABLE_MESSAGE)
    else:
        st.info(EMPTY_STATE_MESSAGE.format(seconds=EMPTY_STATE_POLL_S))


def require_data() -> data.ServingStatus:
    """The serving status when there are rows to show; otherwise the empty state, then stop."""
    try:
        status = data.serving_status()
    except data.ServingUnavailableError as error:
        st.warning(f"{UNAVAILABLE_MESSAGE} ({error})")
        st.stop()
    if status.state != "ready":
        _wait_for_data()
        st.stop()
    return status
