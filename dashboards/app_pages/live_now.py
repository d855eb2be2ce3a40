"""Live now page: every live stream on air, minute by minute, refreshed every few seconds.

Reads the minute-level tables the pipeline commits to the lake (through `dashboards.lake`,
queries in `dashboards/queries/live_now.py`), not the published marts, which are rebuilt
about once a minute: per on-air stream and UTC minute (event time) the concurrent viewers,
chat messages and chatters, tips to its creator, QoE (playback failure %, mean startup,
rebuffer %) and live latency (p50 and p95 of the minute's heartbeats), over the last
hour. The part below the title is an `st.fragment` rerun every REFRESH_S seconds, so the
page stays current without reloading.

The freshness line gives the newest complete minute and its lag (now minus that minute's
end), and how long ago the pipeline last committed; it turns amber after STALE_AFTER_S and
red after VERY_STALE_AFTER_S. The minute still running is shown too, marked in progress: its
numbers grow until it ends. When nothing is on air the page says so and lists the most
recent live sessions from the published `live_sessions` mart, linked to the Content page.

Of the sidebar's filters the creator applies; the period does not (this page is the last
hour), nor do platform and country (chatters and tips are not kept per platform or country).
The page does not need the published warehouse: it works from the pipeline's first commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import components, data, definitions, filters, lake, navigation
from dashboards.queries import live_now as queries

REFRESH_S = queries.REFRESH_S
STALE_AFTER_S = 120
VERY_STALE_AFTER_S = 600
RECENT_SESSIONS = 5
CHART_HEIGHT_PX = 260
INTEGER_COLUMNS = (
    "chat_messages",
    "chatters",
    "tips",
    "attempts",
    "startup_mean_ms",
    "live_latency_p50_ms",
    "live_latency_p95_ms",
)

# Params: creator twice, how many. The newest live sessions of the published mart. (A comment,
# not a docstring: Streamlit would print a bare string of a page.)
RECENT_SESSIONS_SQL = """
select live_id, creator_id, creator_name, content_title, stream_started_at,
    last_minute_start_at, stream_minutes, peak_concurrent_viewers, chat_messages
from main.live_sessions
where (? is null or creator_id = ?)
order by last_minute_start_at desc, live_id
limit ?
"""

STREAM_LABELS = {
    "stream": "Stream",
    "creator": "Creator",
    "concurrent_viewers": "Concurrent viewers",
    "peak_concurrent_viewers": "Peak concurrent viewers (hour)",
    "chat_messages": "Chat messages",
    "chatters": "Chatters",
    "tips": "Tips (hour)",
    "playback_failure_pct": "Playback failure %",
    "startup_mean_ms": "Mean startup (ms)",
    "rebuffer_pct": "Rebuffer %",
    "live_latency_p50_ms": "Live latency p50 (ms)",
    "live_latency_p95_ms": "Live latency p95 (ms)",
}
MINUTE_LABELS = {
    "minute": "Minute (UTC)",
    "concurrent_viewers": "Concurrent viewers",
    "chat_messages": "Chat messages",
    "chatters": "Chatters",
    "tips": "Tips",
    "attempts": "Play requests",
    "playback_failure_pct": "Playback failure %",
    "startup_mean_ms": "Mean startup (ms)",
    "rebuffer_pct": "Rebuffer %",
    "live_latency_p50_ms": "Live latency p50 (ms)",
    "live_latency_p95_ms": "Live latency p95 (ms)",
}
DEFINITIONS = {
    "concurrent_viewers": "avg_concurrent_viewers",
    "peak_concurrent_viewers": "peak_concurrent_viewers",
    "chat_messages": "chat_messages",
    "chatters": "chatters",
    "tips": "live_tips",
    "attempts": "play_requests",
    "playback_failure_pct": "playback_failure_pct",
    "startup_mean_ms": "startup_mean_ms",
    "rebuffer_pct": "rebuffer_pct",
    "live_latency_p50_ms": "live_latency_p50_ms",
    "live_latency_p95_ms": "live_latency_p95_ms",
}


def minute_time(epoch_minute: int) -> datetime:
    return datetime.fromtimestamp(epoch_minute * 60, UTC)


def selected_creator() -> str | None:
    """The sidebar's creator; the sidebar is drawn only once the warehouse is published, and
    before that this page still shows the lake's streams, for every creator."""
    try:
        return filters.current().creator_id
    except RuntimeError:
        return None


def selected_content_type() -> str | None:
    try:
        return filters.current().content_type
    except RuntimeError:
        return None


def column_config(labels: dict[str, str]) -> dict[str, Any]:
    """Each labelled column with its definition on hover (dbt docs blocks), counts as
    integers, rates and viewers with one decimal."""
    config: dict[str, Any] = {}
    for column, label in labels.items():
        help_text = definitions.definition(DEFINITIONS[column]) if column in DEFINITIONS else None
        if column in ("stream", "creator", "minute"):
            config[label] = st.column_config.TextColumn(label, help=help_text)
        else:
            number_format = "%d" if column in INTEGER_COLUMNS else "%.1f"
            config[label] = st.column_config.NumberColumn(
                label, help=help_text, format=number_format
            )
    return config


def show_freshness(live: queries.LiveNow, complete_minute: int, now: datetime) -> None:
    """The newest complete minute and its lag, amber then red as it ages, and the age of the
    pipeline's last commit (a pipeline that commits but receives nothing shows both)."""
    if live.last_commit_at_ms is None:
        commit = "The pipeline's status file is missing."
    else:
        commit_age_s = now.timestamp() - live.last_commit_at_ms / 1000
        commit = f"The pipeline last committed {components.format_age(commit_age_s)} ago."
    lag_s = (now - minute_time(complete_minute + 1)).total_seconds()
    level = components.freshness_level(lag_s, STALE_AFTER_S, VERY_STALE_AFTER_S)
    stale = (
        " The streams below were on air as of that minute: events are not arriving or the "
        "pipeline is behind (the Data health page shows which)."
        if level != "fresh"
        else ""
    )
    components.show_freshness(
        f"Newest complete minute: {minute_time(complete_minute):%Y-%m-%d %H:%M} UTC, "
        f"ended {components.format_age(lag_s)} ago. {commit} "
        f"This part of the page refreshes every {REFRESH_S} s.{stale}",
        level,
    )


def show_recent_sessions(creator_id: str | None) -> None:
    """The newest live sessions of the published mart, each linked to its Content page."""
    try:
        if not data.table_exists("live_sessions"):
            return
        recent = data.query(
            RECENT_SESSIONS_SQL, [creator_id, creator_id, RECENT_SESSIONS], columns=["live_id"]
        )
    except data.ServingUnavailableError:
        return
    if recent.empty:
        return
    st.subheader("Most recent live sessions")
    for row in recent.itertuples(index=False):
        title = row.content_title or row.live_id
        creator = row.creator_name or row.creator_id
        st.page_link(
            navigation.page_path("content"),
            label=(
                f"{title} by {creator}: {row.stream_started_at:%Y-%m-%d %H:%M} to "
                f"{row.last_minute_start_at:%H:%M} UTC, peak "
                f"{row.peak_concurrent_viewers:.1f} concurrent viewers"
            ),
            query_params={"content": row.live_id},
        )


def stream_table(minutes: pd.DataFrame, complete_minute: int) -> pd.DataFrame:
    """One row per on-air stream: its newest complete minute's numbers, its peak concurrent
    viewers and tips over the shown minutes (the per-minute rows are summed in SQL)."""
    complete = minutes[minutes["epoch_minute"] == complete_minute].set_index("content_id")
    shown_complete = minutes[~minutes["in_progress"]]
    streams = (
        minutes.groupby(["content_id", "stream", "creator"], as_index=False)
        .agg(tips=("tips", "sum"))
        .set_index("content_id")
    )
    streams["peak_concurrent_viewers"] = shown_complete.groupby("content_id")[
        "concurrent_viewers"
    ].max()
    for column in (
        "concurrent_viewers",
        "chat_messages",
        "chatters",
        "playback_failure_pct",
        "startup_mean_ms",
        "rebuffer_pct",
        "live_latency_p50_ms",
        "live_latency_p95_ms",
    ):
        streams[column] = complete[column]
    for column in ("concurrent_viewers", "chat_messages", "chatters", "peak_concurrent_viewers"):
        streams[column] = streams[column].fillna(0)
    return streams.reset_index().sort_values(
        ["concurrent_viewers", "stream"], ascending=[False, True]
    )


def per_minute_chart(minutes: pd.DataFrame, column: str, title: str, axis: str) -> alt.Chart:
    """One line per stream over its complete minutes: the minute in progress would read as a
    drop while its events are still arriving (the tables show it, marked)."""
    return (
        alt.Chart(minutes[~minutes["in_progress"]], title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "minute_ms:T",
                title="Minute (UTC)",
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(format="%H:%M"),
            ),
            y=alt.Y(f"{column}:Q", title=axis, axis=alt.Axis(tickMinStep=1, format=",.0f")),
            color=alt.Color("stream:N", title="Stream"),
            tooltip=[
                alt.Tooltip("stream:N", title="Stream"),
                alt.Tooltip("minute:N", title="Minute (UTC)"),
                alt.Tooltip(f"{column}:Q", title=title, format=",.1f"),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )


def show_stream(minutes: pd.DataFrame, content_id: str, creator_id: str, first: int) -> None:
    rows = minutes[minutes["content_id"] == content_id].sort_values("epoch_minute", ascending=False)
    st.dataframe(
        components.readable(rows, MINUTE_LABELS),
        hide_index=True,
        column_config=column_config(MINUTE_LABELS),
        width="stretch",
    )
    components.csv_download(rows, MINUTE_LABELS, f"live_{content_id}_minutes.csv")
    tips = queries.tips_by_currency(creator_id, first, int(rows["epoch_minute"].max()))
    if not tips.empty:
        st.caption(
            "Tips to the creator over these minutes: "
            + ", ".join(
                f"{int(r.tips)} in {r.currency} ({int(r.tips_amount_minor):,} minor units)"
                for r in tips.itertuples(index=False)
            )
            + ". "
            + definitions.definition("tips_amount_minor")
        )
    st.page_link(
        navigation.page_path("content"),
        label="Open this stream's Content page",
        query_params={"content": content_id},
    )


@st.fragment(run_every=REFRESH_S)
def live_panel(creator_id: str | None) -> None:
    """Everything that changes as runs are committed; rerun on its own every REFRESH_S."""
    now = datetime.now(UTC)
    live = queries.live_now(creator_id, int(now.timestamp() * 1000))
    if live.newest_run_id is None or live.newest_minute is None:
        st.info(
            "No live data yet: the pipeline has not committed a run with events to the lake. "
            "Streams appear here within seconds of their first events once the pipeline runs "
            "(`python -m pipelines local`, every 2 s in the demo). "
            f"This page checks again every {REFRESH_S} s."
        )
        return
    assert live.complete_minute is not None
    show_freshness(live, live.complete_minute, now)
    minutes = live.minutes
    if minutes.empty:
        whose = " for this creator" if creator_id else ""
        st.info(
            f"Nothing is on air{whose}: no live stream had player or chat activity in the "
            f"{queries.ON_AIR_MINUTES} minutes up to "
            f"{minute_time(live.complete_minute):%H:%M} UTC. A stream shows here within "
            "seconds of its first viewer or chat message."
        )
        show_recent_sessions(creator_id)
        return

    creators, titles = lake.catalogue_names()
    minutes = minutes.copy()
    minutes["stream"] = [titles.get(c, c) for c in minutes["content_id"]]
    minutes["creator"] = [creators.get(c, c) for c in minutes["creator_id"]]
    # Epoch milliseconds on a UTC time scale: the chart shows UTC minutes, as the tables do.
    minutes["minute_ms"] = minutes["epoch_minute"].astype("int64") * 60_000
    minutes["minute"] = [
        f"{minute_time(int(m)):%H:%M}" + (" (in progress)" if running else "")
        for m, running in zip(minutes["epoch_minute"], minutes["in_progress"], strict=True)
    ]
    streams = stream_table(minutes, live.complete_minute)

    at_minute = f"{minute_time(live.complete_minute):%H:%M} UTC"
    columns = st.columns(4)
    columns[0].metric("Streams on air", f"{len(streams):,}")
    components.show_metric(
        columns[1], f"Concurrent viewers ({at_minute})",
        float(streams["concurrent_viewers"].sum()), "{:,.1f}",
        definition_name="avg_concurrent_viewers",
    )  # fmt: skip
    components.show_metric(
        columns[2], f"Chat messages ({at_minute})", float(streams["chat_messages"].sum()),
        "{:,.0f}", definition_name="chat_messages",
    )  # fmt: skip
    components.show_metric(
        columns[3], f"Chatters ({at_minute})", float(streams["chatters"].sum()), "{:,.0f}",
        definition_name="chatters",
    )  # fmt: skip
    st.caption(
        f"Numbers of the newest complete minute ({at_minute}); peak and tips over the last "
        f"{queries.WINDOW_MINUTES} minutes. On air: player or chat activity in the last "
        f"{queries.ON_AIR_MINUTES} minutes."
    )
    st.dataframe(
        components.readable(streams, STREAM_LABELS),
        hide_index=True,
        column_config=column_config(STREAM_LABELS),
        width="stretch",
    )
    components.csv_download(streams, STREAM_LABELS, "live_now.csv")

    left, right = st.columns(2)
    left.altair_chart(
        per_minute_chart(
            minutes, "concurrent_viewers", "Concurrent viewers per minute", "Concurrent viewers"
        ),
        width="stretch",
    )
    right.altair_chart(
        per_minute_chart(minutes, "chat_messages", "Chat messages per minute", "Chat messages"),
        width="stretch",
    )
    st.caption(
        definitions.definition("avg_concurrent_viewers")
        + " The charts show complete minutes; the minute in progress is in the table below."
    )
    if minutes["live_latency_p95_ms"].notna().any():
        st.altair_chart(
            per_minute_chart(
                minutes.dropna(subset=["live_latency_p95_ms"]),
                "live_latency_p95_ms",
                "Live latency p95 per minute (ms)",
                "Live latency p95 (ms)",
            ),
            width="stretch",
        )
        st.caption(definitions.definition("live_latency_p95_ms"))

    st.subheader("One stream, minute by minute")
    labels = dict(
        zip(streams["content_id"], streams["stream"] + " by " + streams["creator"], strict=True)
    )
    picked = st.selectbox(
        "Stream", list(labels), format_func=lambda content: labels[content], key="live_stream"
    )
    if picked is not None:
        show_stream(
            minutes,
            picked,
            str(minutes.loc[minutes["content_id"] == picked, "creator_id"].iloc[0]),
            int(minutes["epoch_minute"].min()),
        )


st.title("Live now")
st.caption(
    "Every live stream on air, minute by minute, from the minute data the pipeline commits "
    "every few seconds (not the marts, which are rebuilt about once a minute)."
)
content_type = selected_content_type()
if content_type is not None and content_type != "live":
    label = filters.CONTENT_TYPE_LABELS.get(content_type, content_type)
    st.info(
        f"Nothing matches: the content type filter is {label}, and this page shows live "
        "streams only. Set the filter to Live or All types."
    )
    st.stop()
live_panel(selected_creator())
