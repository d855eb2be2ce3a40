"""Content page: one VOD, clip, story or live stream, opened as `/content?content=<id>`.

Its header (title, creator, type, publication), views, unique viewers, completion rate (VOD,
clips and stories) and watch hours over the period; the retention curve (`vod_clip_retention`
in 5 % steps, for a live stream `live_minute_retention` by minute since it began); QoE per
minute or per hour from `content_minute_qoe`; ads per ad and break position from
`ad_placement_daily_performance`; a live stream's `live_sessions` row and tips per currency,
and the clips cut from it (`live_session_clips`, `dashboards.live_clips`; a clip links to its live);
a story's funnel and reactions from the stories mart; impressions and click-through per
surface (`content_daily_impressions`, `dashboards.impressions`). SQL in
`dashboards.queries.content`.

Without a content picked, the page lists the content with the most views in the period. The
creator and type filters narrow the content that can be picked; the per-content marts have
no platform or country, so those filters do not apply here.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboards import (
    components,
    definitions,
    filters,
    impressions,
    live_clips,
    navigation,
    url_state,
)
from dashboards.live_latency import show_live_latency
from dashboards.queries import content as queries
from dashboards.queries import stories as story_queries

CONTENT_KEY = "content"
CHART_HEIGHT_PX = 260
LISTED = 20
# Up to one day the QoE chart has a point per minute; over longer periods, per hour.
MINUTE_GRAIN_MAX_DAYS = 1

LIST_LABELS = {
    "content_title": "Title",
    "type_label": "Type",
    "creator_name": "Creator",
    "published_at": "Published (UTC)",
    "views": "Views",
    "impressions": "Story impressions",
    "watch_hours": "Watch hours",
    "content_id": "Content id",
}

ADS_LABELS = {
    "ad_id": "Ad",
    "position": "Break position",
    "ad_format": "Format",
    "ad_impressions": "Impressions",
    "q25_reach_pct": "Reached 25 % (%)",
    "q50_reach_pct": "Reached 50 % (%)",
    "q75_reach_pct": "Reached 75 % (%)",
    "q100_reach_pct": "Reached 100 % (%)",
    "ad_completion_rate_pct": "Completion rate %",
    "skip_rate_pct": "Skip rate %",
    "ctr_pct": "Click-through rate %",
}
ADS_DEFINITIONS = {
    "ad_id": "ad_id",
    "position": "ad_position",
    "ad_format": "ad_format",
    "ad_impressions": "ad_impressions",
    "q25_reach_pct": "ad_quartile_reach_pct",
    "q50_reach_pct": "ad_quartile_reach_pct",
    "q75_reach_pct": "ad_quartile_reach_pct",
    "q100_reach_pct": "ad_quartile_reach_pct",
    "ad_completion_rate_pct": "ad_completion_rate_pct",
    "skip_rate_pct": "ad_skip_rate_pct",
    "ctr_pct": "ad_ctr_pct",
}

QOE_SERIES = {
    "playback_failure_pct": ("Playback failure %", "playback_failure_pct"),
    "startup_p50_ms": ("Startup p50 (ms)", "startup_p50_ms"),
    "startup_p95_ms": ("Startup p95 (ms)", "startup_p95_ms"),
    "rebuffer_pct": ("Rebuffer %", "rebuffer_pct"),
    "avg_bitrate_kbps": ("Average bitrate (kbps)", "avg_bitrate_kbps"),
}


def option_label(row: pd.Series) -> str:
    """What the picker shows: title and type, with the id when the title is another text
    (two contents can share a title)."""
    type_label = filters.CONTENT_TYPE_LABELS.get(row["content_type"], row["content_type"])
    if row["content_title"] == row["content_id"]:
        return f"{row['content_id']} ({type_label})"
    return f"{row['content_title']} ({type_label}, {row['content_id']})"


def number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def metric(
    column: DeltaGenerator,
    label: str,
    frame: pd.DataFrame,
    name: str,
    value_format: str,
    definition_name: str,
    previous: pd.DataFrame | None = None,
) -> None:
    previous_value = None
    if previous is not None and not previous.empty:
        previous_value = number(previous[name].iloc[0])
    components.show_metric(
        column,
        label,
        number(frame[name].iloc[0]) if not frame.empty else None,
        value_format,
        previous=previous_value,
        definition_name=definition_name,
    )


def show_list(current: filters.Filters, listed: pd.DataFrame, names: dict[str, str]) -> None:
    """The content with the most views in the period, searchable, each linked to its page."""
    st.subheader("Top content in the period")
    if listed.empty:
        st.info(
            f"No content matches the filters between {current.start:%Y-%m-%d} and "
            f"{current.end:%Y-%m-%d}: no views of VOD, clips or live streams and no story "
            "impressions. Widen the period or clear the creator and type filters."
        )
        return
    search = st.text_input(
        "Search titles, ids and creators",
        key="content_search",
        placeholder="e.g. a title or a creator name",
    )
    shown = listed.assign(
        creator_name=listed["creator_id"].map(lambda c: names.get(c, c)),
        type_label=listed["content_type"].map(lambda t: filters.CONTENT_TYPE_LABELS.get(t, t)),
    )
    if search:
        needle = search.strip().lower()
        haystack = (
            shown["content_title"].str.lower()
            + " "
            + shown["content_id"].str.lower()
            + " "
            + shown["creator_name"].str.lower()
        )
        shown = shown[haystack.str.contains(needle, regex=False)]
    st.dataframe(
        components.readable(shown, LIST_LABELS),
        hide_index=True,
        column_config={
            "Views": st.column_config.NumberColumn(
                "Views", format="localized", help=definitions.definition("views")
            ),
            "Story impressions": st.column_config.NumberColumn(
                "Story impressions",
                format="localized",
                help=definitions.definition("story_impressions"),
            ),
            "Watch hours": st.column_config.NumberColumn(
                "Watch hours", format="%.3f", help=definitions.definition("watch_time_hours")
            ),
            "Published (UTC)": st.column_config.DatetimeColumn(
                "Published (UTC)", format="YYYY-MM-DD HH:mm"
            ),
        },
    )
    components.csv_download(shown, LIST_LABELS, "content.csv")
    st.caption("Stories have impressions, not playback views. Open a content:")
    link_columns = st.columns(2)
    for index, row in enumerate(shown.head(LISTED).itertuples(index=False)):
        link_columns[index % 2].page_link(
            navigation.page_path("content"),
            label=f"{row.content_title} ({row.type_label}, {row.creator_name})",
            query_params={CONTENT_KEY: str(row.content_id)},
        )


def show_header(row: pd.Series, names: dict[str, str]) -> None:
    type_label = filters.CONTENT_TYPE_LABELS.get(row["content_type"], row["content_type"])
    st.header(str(row["content_title"]))
    published = row["published_at"]
    published_text = (
        "publication time unknown"
        if pd.isna(published)
        else f"published {published:%Y-%m-%d %H:%M} UTC"
    )
    st.caption(f"{type_label} · {published_text} · id {row['content_id']}")
    creator_id = str(row["creator_id"])
    st.page_link(
        navigation.page_path("creator"),
        label=f"Creator: {names.get(creator_id, creator_id)}",
        query_params={"creator": creator_id},
    )


def show_playback(content_id: str, content_type: str, current: filters.Filters) -> None:
    """Views, unique viewers, completion (not for live) and watch hours over the period."""
    frame = queries.playback(content_id, current.start, current.end)
    previous = None
    if current.compare:
        previous = queries.playback(content_id, *current.previous)
    st.caption(
        f"Views between {current.start:%Y-%m-%d} and {current.end:%Y-%m-%d} (UTC days of "
        "their start)."
    )
    columns = st.columns(4)
    metric(columns[0], "Views", frame, "views", "{:,.0f}", "views", previous)
    metric(
        columns[1], "Unique viewers", frame, "unique_viewers", "{:,.0f}", "unique_viewers", previous
    )
    if content_type == "live":
        columns[2].metric(
            "Completion rate",
            "n/a",
            help="Not defined for live streams. " + definitions.definition("completion_rate_pct"),
        )
    else:
        metric(
            columns[2],
            "Completion rate",
            frame,
            "completion_rate_pct",
            "{:.2f} %",
            "completion_rate_pct",
            previous,
        )
    metric(
        columns[3],
        "Watch hours",
        frame,
        "watch_time_hours",
        "{:,.3f}",
        "watch_time_hours",
        previous,
    )


def show_retention(content_id: str) -> None:
    curve = queries.retention(content_id)
    st.subheader("Retention")
    if curve.empty:
        st.info(
            "No retention curve yet: it needs started views with a known length of the "
            "content (vod_clip_retention)."
        )
        return
    chart = (
        alt.Chart(curve, title="Share of started views reaching each point")
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "percent_point:Q",
                title="Point of the content (%)",
                scale=alt.Scale(domain=[0, 100]),
            ),
            y=alt.Y(
                "retention_pct:Q",
                title="Started views reaching it (%)",
                scale=alt.Scale(domain=[0, 100]),
            ),
            tooltip=[
                alt.Tooltip("percent_point:Q", title="Point (%)"),
                alt.Tooltip("retention_pct:Q", title="Retention (%)", format=".2f"),
                alt.Tooltip("views_reaching:Q", title="Views reaching"),
                alt.Tooltip("started_views:Q", title="Started views"),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )
    st.altair_chart(chart, width="stretch")
    st.caption(definitions.definition("retention_pct") + " Over every view since publication.")


def show_live_retention(live_id: str) -> None:
    curve = queries.live_retention(live_id)
    st.subheader("Viewers by minute since the stream began")
    if curve.empty:
        st.info("No minutes of this stream yet (live_minute_retention).")
        return
    chart = (
        alt.Chart(curve, title="Average concurrent viewers per minute")
        .mark_line(point=True)
        .encode(
            x=alt.X("minutes_since_start:Q", title="Minutes since start"),
            y=alt.Y("avg_concurrent_viewers:Q", title="Concurrent viewers"),
            tooltip=[
                alt.Tooltip("minutes_since_start:Q", title="Minute"),
                alt.Tooltip("minute_start_at:T", title="UTC", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("avg_concurrent_viewers:Q", title="Concurrent viewers", format=".2f"),
                alt.Tooltip("chat_messages:Q", title="Chat messages"),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        definitions.definition("minutes_since_start")
        + " "
        + definitions.definition("live_retention_concurrent_viewers")
    )


def show_live_session(live_id: str) -> None:
    session = queries.live_session(live_id)
    st.subheader("Live session")
    if session.empty:
        st.info("This stream has no live_sessions row yet: it appears after its first minute.")
        return
    row = session.iloc[0]
    st.caption(
        f"On air from {row['stream_started_at']:%Y-%m-%d %H:%M} to "
        f"{row['last_minute_start_at']:%H:%M} UTC ({int(row['stream_minutes'])} min)."
    )
    columns = st.columns(5)
    for column, (label, name, value_format, definition_name) in zip(
        columns,
        [
            (
                "Average concurrent viewers",
                "avg_concurrent_viewers",
                "{:,.2f}",
                "live_avg_concurrent_viewers",
            ),
            (
                "Peak concurrent viewers",
                "peak_concurrent_viewers",
                "{:,.2f}",
                "peak_concurrent_viewers",
            ),
            ("Chat messages", "chat_messages", "{:,.0f}", "chat_messages"),
            ("Chatters", "chatters", "{:,.0f}", "chatters"),
            ("Tips", "tips", "{:,.0f}", "live_tips"),
        ],
        strict=True,
    ):
        metric(column, label, session, name, value_format, definition_name)
    tips = queries.live_tips(live_id)
    if tips.empty:
        st.caption("No tips during this stream.")
        return
    st.dataframe(
        tips.rename(
            columns={
                "currency": "Currency",
                "tips": "Tips",
                "tips_amount_minor": "Amount (minor units)",
            }
        ),
        hide_index=True,
        column_config={
            "Currency": st.column_config.TextColumn(
                "Currency", help=definitions.definition("currency")
            ),
            "Tips": st.column_config.NumberColumn("Tips", format="localized"),
            "Amount (minor units)": st.column_config.NumberColumn(
                "Amount (minor units)",
                format="localized",
                help=definitions.definition("tips_amount_minor"),
            ),
        },
    )


def show_qoe(content_id: str, current: filters.Filters) -> None:
    per_minute = current.days <= MINUTE_GRAIN_MAX_DAYS
    grain = "minute" if per_minute else "hour"
    frame = queries.qoe(content_id, current.start, current.end, 1 if per_minute else 60)
    st.subheader(f"Playback quality per {grain}")
    if frame.empty:
        st.info(
            f"No playback minutes of this content between {current.start:%Y-%m-%d} and "
            f"{current.end:%Y-%m-%d} (content_minute_qoe)."
        )
        return
    long = frame.melt(
        id_vars=["bucket_start"], value_vars=list(QOE_SERIES), var_name="metric", value_name="value"
    ).dropna(subset=["value"])
    long["metric"] = long["metric"].map(lambda name: QOE_SERIES[name][0])
    chart = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket_start:T", title=f"UTC {grain}"),
            y=alt.Y("value:Q", title=None),
            tooltip=[
                alt.Tooltip("bucket_start:T", title="UTC", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("metric:N", title="Metric"),
                alt.Tooltip("value:Q", title="Value", format=",.2f"),
            ],
        )
        .properties(height=140)
        .facet(row=alt.Row("metric:N", title=None), columns=1)
        .resolve_scale(y="independent")
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        " ".join(
            definitions.definition(name)
            for _, name in QOE_SERIES.values()
            if name != "startup_p95_ms"
        )
    )


def show_ads(content_id: str, current: filters.Filters) -> None:
    frame = queries.ads(content_id, current.start, current.end)
    st.subheader("Ads")
    if frame.empty:
        st.caption(
            f"No ad impressions in this content between {current.start:%Y-%m-%d} and "
            f"{current.end:%Y-%m-%d}."
        )
        return
    st.dataframe(
        components.readable(frame, ADS_LABELS),
        hide_index=True,
        column_config={
            label: (
                st.column_config.NumberColumn(
                    label, format="%.2f", help=definitions.definition(ADS_DEFINITIONS[name])
                )
                if name.endswith("_pct")
                else st.column_config.Column(
                    label, help=definitions.definition(ADS_DEFINITIONS[name])
                )
            )
            for name, label in ADS_LABELS.items()
        },
    )
    components.csv_download(frame, ADS_LABELS, f"ads_{content_id}.csv")


def show_story(story_id: str) -> None:
    """The story's funnel and reactions from the stories mart (its whole life)."""
    story = story_queries.story(story_id)
    if story.empty:
        st.info("This story has no row in the stories mart yet: it appears once it is viewed.")
        return
    row = story.iloc[0]
    st.caption("Over the story's whole life (stories expire within a day).")
    columns = st.columns(4)
    metric(columns[0], "Impressions", story, "impressions", "{:,.0f}", "story_impressions")
    metric(columns[1], "Reach", story, "reach", "{:,.0f}", "story_reach")
    metric(
        columns[2],
        "Completion rate",
        story,
        "completion_rate_pct",
        "{:.2f} %",
        "story_completion_rate_pct",
    )
    metric(
        columns[3],
        "Reaction rate",
        story,
        "reaction_rate_pct",
        "{:.2f} %",
        "story_reaction_rate_pct",
    )
    columns = st.columns(4)
    metric(
        columns[0],
        "Story-to-live conversion",
        story,
        "story_to_live_conversion_pct",
        "{:.2f} %",
        "story_to_live_conversion_pct",
    )
    metric(columns[1], "Valid reactions", story, "valid_reactions", "{:,.0f}", "valid_reactions")
    metric(
        columns[2], "Invalid reactions", story, "invalid_reactions", "{:,.0f}", "invalid_reactions"
    )
    metric(
        columns[3],
        "Tap-forward rate",
        story,
        "tap_forward_rate_pct",
        "{:.2f} %",
        "story_tap_forward_rate_pct",
    )

    funnel = pd.DataFrame(
        {
            "step": [label for label, _ in story_queries.FUNNEL_STEPS.values()],
            "order": range(len(story_queries.FUNNEL_STEPS)),
            "viewers": [number(row[name]) for name in story_queries.FUNNEL_STEPS],
        }
    )
    funnel_col, reasons_col = st.columns(2)
    with funnel_col:
        st.subheader("Funnel")
        st.altair_chart(
            alt.Chart(funnel)
            .mark_bar()
            .encode(
                x=alt.X("viewers:Q", title="Viewers"),
                y=alt.Y("step:N", sort=alt.EncodingSortField("order"), title=None),
                tooltip=[
                    alt.Tooltip("step:N", title="Step"),
                    alt.Tooltip("viewers:Q", title="Viewers"),
                ],
            )
            .properties(height=200),
            width="stretch",
        )
        if pd.isna(row["announces_live_id"]):
            st.caption("This story announces no live stream, so there is no conversion.")
        else:
            st.page_link(
                navigation.page_path("content"),
                label=f"Announced live stream: {row['announces_live_id']}",
                query_params={CONTENT_KEY: str(row["announces_live_id"])},
            )
    with reasons_col:
        st.subheader("Reactions")
        rows = [
            ("Valid", int(row["valid_reactions"])),
            ("Invalid (any reason)", int(row["invalid_reactions"])),
        ]
        if story_queries.has_reasons():
            day = (
                row["first_viewed_date"]
                if not pd.isna(row["first_viewed_date"])
                else row["published_at"]
            )
            reasons = story_queries.reasons(day.date(), day.date(), None, story_id)
            for name, label in story_queries.REASON_LABELS.items():
                count = int(reasons[name].sum()) if not reasons.empty else 0
                rows.append((f"Invalid: {label.lower()}", count))
        else:
            st.caption("The warehouse has no int_story_reactions table: reasons cannot be shown.")
        st.dataframe(
            pd.DataFrame(rows, columns=["Reactions", "Count"]),
            hide_index=True,
            column_config={
                "Reactions": st.column_config.TextColumn(
                    "Reactions", help=definitions.definition("invalid_reactions")
                ),
                "Count": st.column_config.NumberColumn("Count", format="localized"),
            },
        )


st.title("Content")
status = components.require_data()
current = filters.current()
st.caption(components.freshness_caption(status.newest_minute_utc))
if current.platform or current.country:
    st.caption(
        "The platform and country filters do not apply on this page: the per-content marts "
        "are not broken down by platform or country. The numbers are for all of them."
    )

names = filters.creator_names()
listed = queries.content_list(
    current.start, current.end, current.creator_id, current.content_type, queries.MAX_OPTIONS
)
# A link such as /content?content=vod_1 names the content by id. The content named must exist
# and pass the creator and type filters (it may be outside the top of the list); otherwise it
# is dropped.
requested = st.query_params.get(CONTENT_KEY)
if requested and requested not in set(listed["content_id"]):
    extra = queries.one_content(requested, current.creator_id, current.content_type)
    if not extra.empty:
        listed = pd.concat([extra, listed], ignore_index=True)
labels = {str(row["content_id"]): option_label(row) for _, row in listed.iterrows()}

picked = url_state.selectbox(
    "Content",
    [None, *labels],
    key=CONTENT_KEY,
    default=None,
    format_func=lambda content_id: (
        "Pick a VOD, clip, story or live stream"
        if content_id is None
        else labels.get(content_id, content_id)
    ),
    help=f"The {queries.MAX_OPTIONS} contents with the most views in the period, within the "
    "creator and type filters.",
)

if picked is None:
    show_list(current, listed.iloc[0:0] if listed.empty else listed, names)
    st.stop()

content = listed[listed["content_id"] == picked].iloc[0]
content_id = str(content["content_id"])
content_type = str(content["content_type"])
show_header(content, names)

if content_type == "story":
    show_story(content_id)
    st.caption(
        "Stories are shown by story_viewed events, not by a player: they have no playback "
        "views, retention curve or playback quality."
    )
    show_ads(content_id, current)
    st.stop()

show_playback(content_id, content_type, current)
if content_type == "live":
    show_live_session(content_id)
    live_clips.show_live_clips(content_id)
    show_live_retention(content_id)
    show_live_latency(content_id)
else:
    if content_type == "clip":
        live_clips.show_clip_source(content_id)
    show_retention(content_id)
show_qoe(content_id, current)
show_ads(content_id, current)
impressions.show_content_impressions(content_id, current.start, current.end)
