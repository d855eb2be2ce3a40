"""Pieces every dashboard page shares: the empty state, freshness, headline numbers with
their definitions and change, readable tables and their CSV export."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Literal

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboards import data, definitions

EMPTY_STATE_MESSAGE = (
    "No data yet. The dashboards read the serving warehouse, which appears after the first "
    "pipeline run and dbt build (about a minute after events start arriving). "
    "This page checks again every {seconds} seconds."
)
NO_TABLE_MESSAGE = (
    "The serving warehouse has no table main.content_daily_performance or "
    "main.creator_daily_performance yet. "
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


def change_pct(current: float | None, previous: float | None) -> float | None:
    """Percent change from previous to current; None when there is no previous value."""
    if current is None or previous is None or previous == 0:
        return None
    return 100.0 * (current - previous) / previous


def show_metric(
    column: DeltaGenerator,
    label: str,
    value: float | None,
    value_format: str,
    *,
    previous: float | None = None,
    definition_name: str | None = None,
    lower_is_better: bool = False,
) -> None:
    """One headline number with its definition on hover and, when a previous period is
    compared, its change in percent (green when better)."""
    shown = "n/a" if value is None or pd.isna(value) else value_format.format(value)
    change = change_pct(value, previous)
    column.metric(
        label,
        shown,
        delta=None if change is None else f"{change:+.1f} %",
        delta_color="inverse" if lower_is_better else "normal",
        help=definitions.definition(definition_name) if definition_name else None,
    )


def readable(frame: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """The columns named in `labels`, in that order, renamed to their readable labels."""
    return frame[list(labels)].rename(columns=dict(labels))


def csv_download(frame: pd.DataFrame, labels: Mapping[str, str], file_name: str) -> None:
    """A CSV export of `frame` with readable headers (the labels the table shows)."""
    st.download_button(
        "Download CSV",
        readable(frame, labels).to_csv(index=False).encode("utf-8"),
        file_name=file_name,
        mime="text/csv",
    )


FreshnessLevel = Literal["fresh", "stale", "very_stale", "unknown"]


def freshness_level(
    age_s: float | None, stale_after_s: float, very_stale_after_s: float
) -> FreshnessLevel:
    """fresh, stale (amber) or very_stale (red) for data whose newest point is age_s old."""
    if age_s is None:
        return "unknown"
    if age_s >= very_stale_after_s:
        return "very_stale"
    if age_s >= stale_after_s:
        return "stale"
    return "fresh"


def show_freshness(message: str, level: FreshnessLevel) -> None:
    """The freshness line: a caption when fresh, amber when stale, red when very stale."""
    if level == "fresh":
        st.caption(message)
    elif level == "stale":
        st.warning(message)
    else:
        st.error(message)
