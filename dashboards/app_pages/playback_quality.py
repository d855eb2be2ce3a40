"""Playback quality page: where playback hurts, and the views behind each number.

Headline QoE of the filter period (failure, VSF and EBVS %, startup p50/p95, rebuffer %,
average bitrate) with the change against the previous period; the same metrics over time,
one line per value of the chosen breakdown (content type, platform, country, app version, OS,
device: `?by=` in the URL); the breakdown's table; the worst contents and values (at least
MIN_VIEWS views); and a drill-down listing the views behind a row, one row per view.

Numbers of a period are computed from `main.playback_sessions` (one row per view), because startup
percentiles cannot be re-aggregated from daily rows; the series read `main.dimension_daily_qoe`
(per day) or `main.dimension_minute_qoe` (per minute, for a one-day period) when only the
period is filtered, and `main.playback_sessions` otherwise (`dashboards.queries.playback_quality`).
"""

from __future__ import annotations

from typing import cast

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboards import components, data, definitions, filters, url_state
from dashboards.queries import playback_quality as queries

# Worst offenders need this many views: below it one failed view is a failure % of 5+.
MIN_VIEWS = 20
CHART_VALUES = 8
CHART_HEIGHT_PX = 320
REQUIRED_TABLES = ("playback_sessions", "dimension_daily_qoe", "dimension_minute_qoe")

# label, value format, docs block, lower is better
HEADLINE: dict[str, tuple[str, str, str, bool]] = {
    "views": ("Views", "{:,.0f}", "n_views", False),
    "playback_failure_pct": ("Failure %", "{:.2f} %", "playback_failure_pct", True),
    "vsf_pct": ("VSF %", "{:.2f} %", "vsf_pct", True),
    "ebvs_pct": ("EBVS %", "{:.2f} %", "ebvs_pct", True),
    "startup_p50_ms": ("Startup p50", "{:,.0f} ms", "startup_p50_ms", True),
    "startup_p95_ms": ("Startup p95", "{:,.0f} ms", "startup_p95_ms", True),
    "rebuffer_pct": ("Rebuffer %", "{:.2f} %", "rebuffer_pct", True),
    "avg_bitrate_kbps": ("Avg bitrate", "{:,.0f} kbps", "set_avg_bitrate_kbps", False),
}
SERIES_METRICS = [name for name in HEADLINE if name != "views"]

VIEW_KINDS: dict[str, str] = {
    "all": "All views",
    "failed": "Failed views",
    "vsf": "Video start failures",
    "ebvs": "Exits before video start",
    "rebuffered": "Views that stalled",
}

METRIC_LABELS = {
    "views": "Views",
    "started_views": "Started views",
    "failed_views": "Failed views",
    "playback_failure_pct": "Failure %",
    "vsf_pct": "VSF %",
    "ebvs_pct": "EBVS %",
    "startup_p50_ms": "Startup p50 (ms)",
    "startup_p95_ms": "Startup p95 (ms)",
    "rebuffer_pct": "Rebuffer %",
    "avg_bitrate_kbps": "Avg bitrate (kbps)",
}
METRIC_DOCS = {
    "views": "n_views",
    "started_views": "started_views",
    "failed_views": "failed_views",
    "playback_failure_pct": "playback_failure_pct",
    "vsf_pct": "vsf_pct",
    "ebvs_pct": "ebvs_pct",
    "startup_p50_ms": "startup_p50_ms",
    "startup_p95_ms": "startup_p95_ms",
    "rebuffer_pct": "rebuffer_pct",
    "avg_bitrate_kbps": "set_avg_bitrate_kbps",
}
VIEW_LABELS = {
    "session_id": "Session",
    "content_title": "Content",
    "creator_name": "Creator",
    "platform": "Platform",
    "country": "Country",
    "app_version": "App version",
    "os": "OS",
    "device": "Device",
    "view_started_at": "Started (UTC)",
    "startup_ms": "Startup (ms)",
    "played_ms": "Played (ms)",
    "stalled_ms": "Stalled (ms)",
    "is_failed": "Failed",
    "is_vsf": "VSF",
    "is_ebvs": "EBVS",
    "end_reason": "End reason",
}
VIEW_DOCS = {
    "session_id": "session_id",
    "platform": "platform",
    "country": "country",
    "app_version": "app_version",
    "os": "os",
    "device": "device",
    "view_started_at": "view_started_at",
    "startup_ms": "startup_ms",
    "played_ms": "view_played_ms",
    "stalled_ms": "view_stalled_ms",
    "is_failed": "failed",
    "is_vsf": "vsf",
    "is_ebvs": "ebvs",
    "end_reason": "end_reason",
}


def _metric_config(first_label: str, first_doc: str) -> dict[str, ColumnConfig]:
    config: dict[str, ColumnConfig] = {
        "dimension_value": st.column_config.TextColumn(
            first_label, help=definitions.definition(first_doc)
        ),
    }
    for name, label in METRIC_LABELS.items():
        number_format = "localized" if name in ("views", "started_views", "failed_views") else None
        if name.endswith("_pct"):
            number_format = "%.2f"
        elif name.endswith(("_ms", "_kbps")):
            number_format = "%.0f"
        config[name] = st.column_config.NumberColumn(
            label, format=number_format, help=definitions.definition(METRIC_DOCS[name])
        )
    return config


def _series_chart(frame: pd.DataFrame, metric: str, value_label: str, grain: str) -> alt.Chart:
    label = METRIC_LABELS[metric]
    return (
        alt.Chart(frame, title=f"{label} per {grain}")
        .mark_line(point=True)
        .encode(
            x=alt.X("period_start:T", title="UTC " + grain),
            y=alt.Y(f"{metric}:Q", title=label),
            color=alt.Color("dimension_value:N", title=value_label),
            tooltip=[
                alt.Tooltip("period_start:T", title="UTC " + grain),
                alt.Tooltip("dimension_value:N", title=value_label),
                alt.Tooltip(f"{metric}:Q", title=label, format=",.2f"),
                alt.Tooltip("views:Q", title="Views", format=","),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )


def _value_or_none(frame: pd.DataFrame, column: str) -> float | None:
    if frame.empty:
        return None
    value = frame[column].iloc[0]
    return None if pd.isna(value) else float(value)


st.title("Playback quality")
status = components.require_data()
missing = [name for name in REQUIRED_TABLES if not data.table_exists(name)]
if missing:
    st.warning(
        "The serving warehouse has no "
        + ", ".join(f"main.{name}" for name in missing)
        + " yet; this page appears once the dbt build includes them."
    )
    st.stop()

current = filters.current()
st.caption(components.freshness_caption(status.newest_minute_utc))

try:
    totals = queries.headline(current, current.start, current.end)
except data.ServingUnavailableError as error:
    st.warning(f"{components.UNAVAILABLE_MESSAGE} ({error})")
    st.stop()

views = _value_or_none(totals, "views")
if not views:
    st.info(
        f"No views between {current.start:%Y-%m-%d} and {current.end:%Y-%m-%d} match the "
        "filters. Widen the period or clear a filter in the sidebar."
    )
    st.stop()

previous = None
if current.compare:
    previous = queries.headline(current, *current.previous)

HEADLINE_PER_ROW = 4  # eight numbers in one row were cut off at 1440 px
columns = [
    column
    for _ in range(0, len(HEADLINE), HEADLINE_PER_ROW)
    for column in st.columns(HEADLINE_PER_ROW)
]
for column, (name, (label, value_format, doc, lower_is_better)) in zip(
    columns[: len(HEADLINE)], HEADLINE.items(), strict=True
):
    components.show_metric(
        column,
        label,
        _value_or_none(totals, name),
        value_format,
        previous=None if previous is None else _value_or_none(previous, name),
        definition_name=doc,
        lower_is_better=lower_is_better,
    )
st.caption(
    f"Every view started between {current.start:%Y-%m-%d} and {current.end:%Y-%m-%d} (UTC) "
    "that the filters keep. Startup p50 and p95 are exact percentiles over the period's "
    "started views (linear interpolation, as the marts compute them), not averages of daily "
    "percentiles."
)

dimension = cast(
    str,
    url_state.radio(
        "Break down by",
        list(queries.DIMENSIONS),
        key="by",
        default=next(iter(queries.DIMENSIONS)),
        format_func=queries.DIMENSIONS.__getitem__,
        horizontal=True,
    ),
)
value_label = queries.DIMENSIONS[dimension]
by_value = queries.breakdown(current, dimension)

st.subheader(f"Over time by {value_label.lower()}")
grain: queries.Grain = "minute" if current.days == 1 else "day"
metric = cast(
    str,
    st.selectbox(
        "Metric",
        SERIES_METRICS,
        format_func=METRIC_LABELS.__getitem__,
        key="quality_metric",
    ),
)
over_time = queries.series(current, dimension, grain)
shown_values = list(by_value["dimension_value"].head(CHART_VALUES))
st.altair_chart(
    _series_chart(
        over_time[over_time["dimension_value"].isin(shown_values)], metric, value_label, grain
    ),
    width="stretch",
)
source = (
    ("main.dimension_minute_qoe" if grain == "minute" else "main.dimension_daily_qoe")
    if queries.only_period(current)
    else "main.playback_sessions (the filters need it)"
)
st.caption(
    f"{METRIC_LABELS[metric]}: {definitions.definition(METRIC_DOCS[metric])} "
    f"Per {grain} of view start, from {source}; the {CHART_VALUES} values with the most views "
    "in the period (all of them in the table below)."
)
if dimension in queries.FOLDED_DIMENSIONS:
    st.caption(definitions.definition("dimension_value"))

st.subheader(f"By {value_label.lower()}")
st.dataframe(
    by_value,
    hide_index=True,
    column_order=["dimension_value", *METRIC_LABELS],
    column_config=_metric_config(value_label, dimension),
)
if dimension in queries.FOLDED_DIMENSIONS:
    st.caption(
        f"Here the period's values outside its {queries.TOP_VALUES} with the most views are "
        "other (the daily mart folds each day's)."
    )
components.csv_download(
    by_value,
    {"dimension_value": value_label, **METRIC_LABELS},
    file_name=f"quality_by_{dimension}_{current.start}_{current.end}.csv",
)

st.subheader("Worst offenders")
rank_by = cast(
    str,
    st.radio(
        "Rank by",
        ["failure", "rebuffer"],
        format_func={"failure": "Failure %", "rebuffer": "Rebuffer %"}.__getitem__,
        horizontal=True,
        key="quality_rank_by",
    ),
)
rank_column = "playback_failure_pct" if rank_by == "failure" else "rebuffer_pct"
st.caption(
    f"Only contents and values with at least {MIN_VIEWS} views in the period, highest "
    f"{METRIC_LABELS[rank_column]} first: with fewer views one failed view moves the rate by "
    f"{100 / MIN_VIEWS:.0f} points or more."
)
worst = queries.worst_content(current, MIN_VIEWS, rank_by)
worst_values = (
    by_value[by_value["views"] >= MIN_VIEWS]
    .sort_values([rank_column, "views"], ascending=[False, False], na_position="last")
    .head(10)
)
content_column, value_column = st.columns(2)
with content_column:
    st.markdown("**Content**")
    if worst.empty:
        st.info(f"No content has {MIN_VIEWS} views or more in the period.")
    else:
        config = _metric_config(value_label, dimension)
        config["content_title"] = st.column_config.TextColumn("Content")
        config["creator_name"] = st.column_config.TextColumn("Creator")
        st.dataframe(
            worst,
            hide_index=True,
            column_order=["content_title", "creator_name", "views", rank_column],
            column_config=config,
        )
with value_column:
    st.markdown(f"**{value_label}**")
    if worst_values.empty:
        st.info(f"No {value_label.lower()} value has {MIN_VIEWS} views or more in the period.")
    else:
        st.dataframe(
            worst_values,
            hide_index=True,
            column_order=["dimension_value", "views", rank_column],
            column_config=_metric_config(value_label, dimension),
        )

st.subheader("Views behind a number")
targets: dict[str, str] = {}
for value in by_value["dimension_value"]:
    targets[f"value:{value}"] = f"{value_label}: {value}"
for content_id, title in zip(worst["content_id"], worst["content_title"], strict=True):
    targets[f"content:{content_id}"] = f"Content: {title}"
picked = st.selectbox(
    "Views of",
    list(targets),
    index=None,
    format_func=targets.__getitem__,
    placeholder=f"Pick a {value_label.lower()} value or a worst content",
    key="quality_drill",
)
kind = cast(
    queries.ViewKind,
    st.radio(
        "Which views",
        list(VIEW_KINDS),
        format_func=VIEW_KINDS.__getitem__,
        horizontal=True,
        key="quality_drill_kind",
    ),
)
if picked is None:
    st.caption("Pick a row above to list its views, one row per view.")
else:
    target_kind, _, target = picked.partition(":")
    behind = queries.drill_down(
        current,
        dimension,
        target if target_kind == "value" else None,
        target if target_kind == "content" else None,
        kind,
    )
    if behind.empty:
        st.info(f"No {VIEW_KINDS[kind].lower()} among {targets[picked]} in the period.")
    else:
        matching = int(behind["matching_views"].iloc[0])
        st.dataframe(
            components.readable(behind, VIEW_LABELS),
            hide_index=True,
            column_config={
                label: st.column_config.Column(help=definitions.definition(VIEW_DOCS[name]))
                for name, label in VIEW_LABELS.items()
                if name in VIEW_DOCS
            },
        )
        if matching > len(behind):
            st.caption(
                f"The newest {len(behind):,} of {matching:,} matching views "
                f"(at most {queries.DRILL_DOWN_LIMIT}); narrow the period or the filters to "
                "see the others."
            )
        else:
            st.caption(f"{matching:,} matching views, newest first.")
        components.csv_download(
            behind, VIEW_LABELS, file_name=f"views_{current.start}_{current.end}.csv"
        )
