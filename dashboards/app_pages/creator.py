"""Creator page: one creator (the shared `creator` filter, `/creator?creator=<id>`) over the
filter period.

Headline numbers as on the Creators page (`main.creator_daily_performance`, unique viewers and
startup p50 over the `playback_sessions` mart); daily views, watch hours and net followers; the top
content (`main.content_daily_qoe`) with links to the Content page; live sessions
(`main.live_sessions`: minutes, views, average and peak concurrent viewers, chat); clips cut
from them (`main.live_session_clips`, `dashboards.live_clips`); the stories
funnel (`main.stories`: reach, completion, valid reactions, live conversion, per story and in
total); ads (`main.creator_daily_ad_performance`); impressions and click-through per
surface (`main.creator_daily_impressions`, `dashboards.impressions`); and QoE over the
creator's views (`playback_sessions` mart). Without a chosen creator the page lists the
period's top creators to pick from.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import components, data, filters, impressions, live_clips, navigation
from dashboards.definitions import definition
from dashboards.queries import creator as creator_queries
from dashboards.queries import creators as creators_queries
from dashboards.queries import stories as story_queries

PICK_LIMIT = 20
CHART_HEIGHT_PX = 180

HEADLINE = [
    # (key, label, format, docs block)
    ("views", "Views", "{:,.0f}", "views"),
    ("unique_viewers", "Unique viewers", "{:,.0f}", "unique_viewers"),
    ("watch_hours", "Watch hours", "{:,.2f}", "watch_time_hours"),
    ("net_followers", "Net followers", "{:+,.0f}", "net_followers"),
    ("engagement_rate_pct", "Engagement rate", "{:.2f} %", "engagement_rate_pct"),
]
TOP_CONTENT_LABELS = {
    "title": "Content",
    "content_id": "Content id",
    "content_type": "Type",
    "views": "Views",
    "watch_hours": "Watch hours",
    "completion_rate_pct": "Completion %",
    "playback_failure_pct": "Playback failure %",
}
LIVE_LABELS = {
    "title": "Live stream",
    "stream_date": "Date",
    "stream_minutes": "Minutes",
    "views": "Views",
    "avg_concurrent_viewers": "Avg concurrent viewers",
    "peak_concurrent_viewers": "Peak concurrent viewers",
    "chat_messages": "Chat messages",
    "chatters": "Chatters",
}
STORY_LABELS = {
    "title": "Story",
    "reach": "Reach",
    "completed_viewers": "Completed",
    "reached_valid_reactors": "Viewers with a valid reaction",
    "valid_reactions": "Valid reactions",
    "converted_viewers": "Watched the live",
    "completion_rate_pct": "Completion %",
    "reaction_rate_pct": "Reaction %",
    "conversion_pct": "Live conversion %",
}
AD_LABELS = {
    "ad_format": "Ad format",
    "impressions": "Impressions",
    "completion_rate_pct": "Completion %",
    "skip_rate_pct": "Skip %",
    "ctr_pct": "CTR %",
}


def _pick_a_creator(current: filters.Filters) -> None:
    """The explanation and a list of creators to open, when no creator is chosen."""
    st.info(
        "Choose a creator in the sidebar's Creator filter, or open one of the creators with "
        "the most views in the period below (the page's URL then carries `?creator=<id>`)."
    )
    top = creator_queries.top_creators(current.start, current.end, PICK_LIMIT)
    if top.empty:
        st.caption("No creator has a view in the period.")
    for creator_id, name, views in top.itertuples(index=False):
        st.page_link(
            navigation.page_path("creator"),
            label=f"{name}: {views:,} views",
            query_params={"creator": creator_id},
        )
    st.stop()


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _pct(numerator: float, denominator: float) -> float | None:
    return None if not denominator else 100.0 * numerator / denominator


def _with_totals(story_rows: pd.DataFrame) -> pd.DataFrame:
    """The stories with their rates, and a last row over all of them. Live conversion is
    defined only for a story that announces a live, so its total is over those stories."""
    announcing = story_rows["announces_live_id"].notna()
    totals = {
        "title": "All stories",
        "reach": story_rows["reach"].sum(),
        "completed_viewers": story_rows["completed_viewers"].sum(),
        "reached_valid_reactors": story_rows["reached_valid_reactors"].sum(),
        "valid_reactions": story_rows["valid_reactions"].sum(),
        "converted_viewers": story_rows["converted_viewers"][announcing].sum(),
        "announced_reach": story_rows["reach"][announcing].sum(),
    }
    funnel = story_rows.assign(announced_reach=story_rows["reach"].where(announcing))
    funnel = pd.concat([funnel, pd.DataFrame([totals])], ignore_index=True)
    funnel["completion_rate_pct"] = [
        _pct(c, r) for c, r in zip(funnel["completed_viewers"], funnel["reach"], strict=True)
    ]
    funnel["reaction_rate_pct"] = [
        _pct(v, r) for v, r in zip(funnel["reached_valid_reactors"], funnel["reach"], strict=True)
    ]
    funnel["conversion_pct"] = [
        None if pd.isna(r) else _pct(float(c), float(r))
        for c, r in zip(
            funnel["converted_viewers"].fillna(0), funnel["announced_reach"], strict=True
        )
    ]
    return funnel


def _trend_chart(daily: pd.DataFrame, column: str, title: str) -> alt.Chart:
    return (
        alt.Chart(daily, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="UTC day"),
            y=alt.Y(f"{column}:Q", title=title),
            tooltip=[alt.Tooltip("day:T", title="Day"), alt.Tooltip(f"{column}:Q", title=title)],
        )
        .properties(height=CHART_HEIGHT_PX)
    )


def _funnel_chart(steps: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(steps, title="Stories funnel (all stories of the period)")
        .mark_bar()
        .encode(
            x=alt.X("viewers:Q", title="Viewers"),
            y=alt.Y("step:N", sort=list(steps["step"]), title=None),
            tooltip=["step:N", "viewers:Q"],
        )
        .properties(height=CHART_HEIGHT_PX)
    )


st.title("Creator")
status = components.require_data()
current = filters.current()
st.caption(components.freshness_caption(status.newest_minute_utc))
if current.creator_id is None:
    _pick_a_creator(current)
assert current.creator_id is not None
creator_id = current.creator_id
name = filters.creator_names().get(creator_id, creator_id)
st.header(name)
period = f"{current.start:%Y-%m-%d} to {current.end:%Y-%m-%d}"
dimension_filtered = creators_queries.is_dimension_filtered(current)

try:
    board = creators_queries.leaderboard(current, current.start, current.end)
except data.ServingUnavailableError as error:
    st.warning(f"{components.UNAVAILABLE_MESSAGE} ({error})")
    st.stop()

if board.creators.empty:
    st.info(
        f"{name} has no view from {period} with these filters. Widen the period or clear the "
        "content type, platform or country filter in the sidebar."
    )
    st.stop()

row = board.creators.iloc[0]
previous_row = None
if current.compare:
    previous = creators_queries.leaderboard(current, *current.previous).creators
    previous_row = previous.iloc[0] if len(previous) else None
    st.caption(
        f"Changes compare {period} with {current.previous[0]:%Y-%m-%d} to "
        f"{current.previous[1]:%Y-%m-%d}."
    )
for column, (key, label, value_format, docs_name) in zip(
    st.columns(len(HEADLINE)), HEADLINE, strict=True
):
    components.show_metric(
        column,
        label,
        _number(row[key]),
        value_format,
        previous=None if previous_row is None else _number(previous_row[key]),
        definition_name=docs_name,
    )
if dimension_filtered:
    st.caption(
        "Views, unique viewers, watch hours, the trend of views and watch hours, top content "
        "and QoE follow the content type, platform and country filters; net followers, "
        "engagement, live sessions, stories and ads are the creator's whole days."
    )

st.subheader("Daily trends")
daily = creator_queries.daily(current, creator_id, current.start, current.end)
trend_columns = st.columns(3)
for trend_column, (key, title) in zip(
    trend_columns,
    (("views", "Views"), ("watch_hours", "Watch hours"), ("net_followers", "Net followers")),
    strict=True,
):
    if daily[key].isna().all():
        trend_column.caption(f"{title}: not available under a type, platform or country filter.")
    else:
        trend_column.altair_chart(_trend_chart(daily, key, title), width="stretch")

st.subheader("Top content")
top = creator_queries.top_content(current, creator_id, current.start, current.end)
if top.empty:
    st.info(f"No content of {name} has a view from {period} with these filters.")
else:
    st.caption("Open a content's page: retention, QoE over time and ads.")
    link_columns = st.columns(4)
    for position, (content_id, title, views) in enumerate(
        top[["content_id", "title", "views"]].itertuples(index=False)
    ):
        with link_columns[position % len(link_columns)]:
            st.page_link(
                navigation.page_path("content"),
                label=f"{title} ({views:,} views)",
                query_params={"content": content_id},
            )
    st.dataframe(
        components.readable(top, TOP_CONTENT_LABELS),
        hide_index=True,
        column_config={
            "Views": st.column_config.NumberColumn(format="localized", help=definition("views")),
            "Watch hours": st.column_config.NumberColumn(
                format="%.2f", help=definition("watch_time_hours")
            ),
            "Completion %": st.column_config.NumberColumn(
                format="%.1f", help=definition("completion_rate_pct")
            ),
            "Playback failure %": st.column_config.NumberColumn(
                format="%.1f", help=definition("playback_failure_pct")
            ),
        },
    )

st.subheader("Live sessions")
if current.content_type not in (None, "live"):
    st.caption("Hidden by the content type filter.")
else:
    sessions = creator_queries.live_sessions(creator_id, current.start, current.end)
    if sessions.empty:
        st.info(f"{name} streamed no live session from {period}.")
    else:
        st.dataframe(
            components.readable(sessions, LIVE_LABELS),
            hide_index=True,
            column_config={
                "Date": st.column_config.DateColumn(format="YYYY-MM-DD"),
                "Minutes": st.column_config.NumberColumn(help=definition("stream_minutes")),
                "Views": st.column_config.NumberColumn(help=definition("live_views")),
                "Avg concurrent viewers": st.column_config.NumberColumn(
                    format="%.2f", help=definition("live_avg_concurrent_viewers")
                ),
                "Peak concurrent viewers": st.column_config.NumberColumn(
                    format="%.2f", help=definition("peak_concurrent_viewers")
                ),
                "Chat messages": st.column_config.NumberColumn(help=definition("chat_messages")),
                "Chatters": st.column_config.NumberColumn(help=definition("chatters")),
            },
        )

live_clips.show_creator_clips(creator_id, name, current.start, current.end, current.content_type)

impressions.show_creator_impressions(creator_id, name, current.start, current.end)

st.subheader("Stories funnel")
if current.content_type not in (None, "story"):
    st.caption("Hidden by the content type filter.")
else:
    story_rows = creator_queries.stories(creator_id, current.start, current.end)
    if story_rows.empty:
        st.info(f"{name} has no story viewed from {period}.")
    else:
        funnel = _with_totals(story_rows)
        totals = funnel.iloc[-1]
        steps = pd.DataFrame(
            {
                "step": [label for label, _ in story_queries.FUNNEL_STEPS.values()],
                "viewers": [totals[column] for column in story_queries.FUNNEL_STEPS],
            }
        )
        st.altair_chart(_funnel_chart(steps), width="stretch")
        st.dataframe(
            components.readable(funnel, STORY_LABELS),
            hide_index=True,
            column_config={
                "Reach": st.column_config.NumberColumn(help=definition("story_reach")),
                "Completed": st.column_config.NumberColumn(
                    help=definition("story_completed_viewers")
                ),
                "Valid reactions": st.column_config.NumberColumn(
                    help=definition("valid_reactions")
                ),
                "Watched the live": st.column_config.NumberColumn(
                    help=definition("converted_viewers")
                ),
                "Completion %": st.column_config.NumberColumn(
                    format="%.1f", help=definition("story_completion_rate_pct")
                ),
                "Reaction %": st.column_config.NumberColumn(
                    format="%.1f", help=definition("story_reaction_rate_pct")
                ),
                "Live conversion %": st.column_config.NumberColumn(
                    format="%.1f", help=definition("story_to_live_conversion_pct")
                ),
            },
        )

st.subheader("Ads")
ads = creator_queries.ads(creator_id, current.start, current.end)
if ads.empty or not ads["impressions"].sum():
    st.info(f"No ad impression on {name}'s content from {period}.")
else:
    ads["ad_format"] = ads["ad_format"].fillna("All formats")
    st.dataframe(
        components.readable(ads, AD_LABELS),
        hide_index=True,
        column_config={
            "Impressions": st.column_config.NumberColumn(help=definition("ad_impressions")),
            "Completion %": st.column_config.NumberColumn(
                format="%.1f", help=definition("ad_completion_rate_pct")
            ),
            "Skip %": st.column_config.NumberColumn(
                format="%.1f", help=definition("ad_skip_rate_pct")
            ),
            "CTR %": st.column_config.NumberColumn(format="%.1f", help=definition("ad_ctr_pct")),
        },
    )

st.subheader("Playback quality")
qoe = creator_queries.qoe(current, creator_id, current.start, current.end).iloc[0]
qoe_metrics = [
    ("playback_failure_pct", "Playback failure", "{:.2f} %", "playback_failure_pct"),
    ("vsf_pct", "Video start failure", "{:.2f} %", "vsf_pct"),
    ("startup_p50_ms", "Startup p50", "{:,.0f} ms", "startup_p50_ms"),
    ("startup_p95_ms", "Startup p95", "{:,.0f} ms", "startup_p95_ms"),
    ("rebuffer_pct", "Rebuffer", "{:.2f} %", "rebuffer_pct"),
]
for column, (key, label, value_format, docs_name) in zip(
    st.columns(len(qoe_metrics)), qoe_metrics, strict=True
):
    components.show_metric(
        column,
        label,
        _number(qoe[key]),
        value_format,
        definition_name=docs_name,
        lower_is_better=True,
    )
