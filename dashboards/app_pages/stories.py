"""Stories page: do story announcements fill live sessions?

Reads `main.stories` (one row per story over its whole life) and `main.int_story_reactions`
(one row per reaction, valid or invalid with the reason) through `dashboards.queries.stories`:
the funnel reach -> completed viewers -> viewers with a valid reaction -> viewers converted to
the announced live, per story and per creator, story-to-live conversion, navigation rates, and
the valid and invalid reactions with the reasons of invalidity. A story counts in the period of
the UTC day it was first viewed. The creator filter applies; the type filter can only be
"story"; the stories mart has no platform or country, so those filters do not apply here.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboards import components, definitions, filters, navigation
from dashboards.queries import stories as queries

LINKED_STORIES = 10
CHART_HEIGHT_PX = 220

# The columns a story row and a creator row share, in the order both tables show them.
FUNNEL_AND_RATE_LABELS = {
    "completed_viewers": "Completed viewers",
    "reached_valid_reactors": "Viewers with a valid reaction",
    "converted_viewers": "Converted to live",
    "completion_rate_pct": "Completion rate %",
    "reaction_rate_pct": "Reaction rate %",
    "story_to_live_conversion_pct": "Story-to-live conversion %",
    "tap_forward_rate_pct": "Tap-forward rate %",
    "tap_back_rate_pct": "Tap-back rate %",
    "exit_rate_pct": "Exit rate %",
    "valid_reactions": "Valid reactions",
    "invalid_reactions": "Invalid reactions",
}

STORY_LABELS = {
    "story_title": "Story",
    "creator_name": "Creator",
    "published_at": "Published (UTC)",
    "first_viewed_date": "First viewed (UTC day)",
    "announces_live_id": "Announces live",
    "reach": "Reach",
    "impressions": "Impressions",
    **FUNNEL_AND_RATE_LABELS,
    "after_expiry": queries.REASON_LABELS["after_expiry"],
    "after_deletion": queries.REASON_LABELS["after_deletion"],
    "repeats": queries.REASON_LABELS["repeats"],
    "story_id": "Story id",
}

CREATOR_LABELS = {
    "creator_name": "Creator",
    "stories": "Stories",
    "reach": "Reach (sum over stories)",
    **FUNNEL_AND_RATE_LABELS,
    "creator_id": "Creator id",
}

COLUMN_DEFINITIONS = {
    "reach": "story_reach",
    "impressions": "story_impressions",
    "completed_viewers": "story_completed_viewers",
    "reached_valid_reactors": "reached_valid_reactors",
    "converted_viewers": "converted_viewers",
    "completion_rate_pct": "story_completion_rate_pct",
    "reaction_rate_pct": "story_reaction_rate_pct",
    "story_to_live_conversion_pct": "story_to_live_conversion_pct",
    "tap_forward_rate_pct": "story_tap_forward_rate_pct",
    "tap_back_rate_pct": "story_tap_back_rate_pct",
    "exit_rate_pct": "story_exit_rate_pct",
    "valid_reactions": "valid_reactions",
    "invalid_reactions": "invalid_reactions",
    "after_expiry": "invalid_reactions",
    "after_deletion": "invalid_reactions",
    "repeats": "invalid_reactions",
    "announces_live_id": "announces_live_id",
}


def _column_config(labels: dict[str, str]) -> dict[str, ColumnConfig]:
    """Readable headers, with the docs block of each metric column on hover."""
    config: dict[str, ColumnConfig] = {}
    for column, label in labels.items():
        help_text = (
            definitions.definition(COLUMN_DEFINITIONS[column])
            if column in COLUMN_DEFINITIONS
            else None
        )
        if column == "first_viewed_date":
            config[label] = st.column_config.DateColumn(label, format="YYYY-MM-DD")
        elif column == "published_at":
            config[label] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD HH:mm")
        elif column.endswith("_pct"):
            config[label] = st.column_config.NumberColumn(label, format="%.2f", help=help_text)
        elif column in COLUMN_DEFINITIONS and column != "announces_live_id":
            config[label] = st.column_config.NumberColumn(label, format="localized", help=help_text)
        else:
            config[label] = st.column_config.Column(label, help=help_text)
    return config


def show_table(frame: pd.DataFrame, labels: dict[str, str], file_name: str) -> None:
    """A table with readable headers and each metric's definition on hover, and its CSV."""
    st.dataframe(
        components.readable(frame, labels),
        hide_index=True,
        column_config=_column_config(labels),
    )
    components.csv_download(frame, labels, file_name)


def show_links(caption: str, url_path: str, links: list[tuple[str, dict[str, str]]]) -> None:
    """Links (label, query parameters) to the page at url_path, in two columns."""
    st.caption(caption)
    link_columns = st.columns(2)
    for index, (label, query_params) in enumerate(links):
        link_columns[index % 2].page_link(
            navigation.page_path(url_path), label=label, query_params=query_params
        )


def funnel_chart(row: pd.Series) -> alt.Chart:
    """Bars of the funnel steps of one story or of the period's totals."""
    steps = pd.DataFrame(
        {
            "step": [label for label, _ in queries.FUNNEL_STEPS.values()],
            "order": range(len(queries.FUNNEL_STEPS)),
            "viewers": [
                None if pd.isna(row[column]) else int(row[column])
                for column in queries.FUNNEL_STEPS
            ],
        }
    )
    return (
        alt.Chart(steps, title="Story funnel (viewers)")
        .mark_bar()
        .encode(
            x=alt.X("viewers:Q", title="Viewers"),
            y=alt.Y("step:N", sort=alt.EncodingSortField("order"), title=None),
            tooltip=[
                alt.Tooltip("step:N", title="Step"),
                alt.Tooltip("viewers:Q", title="Viewers"),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )


def reasons_frame(reasons: pd.DataFrame) -> pd.DataFrame:
    """Valid reactions, invalid reactions, and invalid ones per reason, as rows to show."""
    totals = reasons[["valid", "invalid", *queries.REASON_LABELS]].sum()
    rows = [
        ("Valid", int(totals["valid"])),
        ("Invalid (any reason)", int(totals["invalid"])),
        *(
            (f"Invalid: {label.lower()}", int(totals[column]))
            for column, label in queries.REASON_LABELS.items()
        ),
    ]
    return pd.DataFrame(rows, columns=["Reactions", "Count"])


def show_reasons(reasons: pd.DataFrame, has_reasons: bool, valid: int, invalid: int) -> None:
    """The valid and invalid reactions, with the counts per reason of invalidity."""
    st.subheader("Valid and invalid reactions")
    if not has_reasons:
        st.caption(
            "The published warehouse has no int_story_reactions table, so the reasons of "
            "invalidity cannot be shown; the totals come from the stories mart."
        )
        frame = pd.DataFrame(
            [("Valid", valid), ("Invalid (any reason)", invalid)], columns=["Reactions", "Count"]
        )
    else:
        frame = reasons_frame(reasons)
    st.dataframe(
        frame,
        hide_index=True,
        column_config={
            "Reactions": st.column_config.TextColumn(
                "Reactions", help=definitions.definition("invalid_reactions")
            ),
            "Count": st.column_config.NumberColumn("Count", format="localized"),
        },
    )
    st.caption(
        "A reaction can be invalid for several reasons at once (a repeat after the story "
        "expired counts under both), so the reasons can add up to more than the invalid total."
    )


st.title("Stories")
status = components.require_data()
current = filters.current()
st.caption(components.freshness_caption(status.newest_minute_utc))

if current.platform or current.country:
    st.caption(
        "The platform and country filters do not apply on this page: the stories mart "
        "counts viewers per story, without platform or country. The numbers are for all "
        "platforms and countries."
    )
if current.content_type is not None and current.content_type != "story":
    type_label = filters.CONTENT_TYPE_LABELS.get(current.content_type, current.content_type)
    st.info(
        f"This page shows stories only, and the content type filter is set to {type_label}. "
        "Choose All types or Story in the sidebar to see the stories."
    )
    st.stop()

period = f"between {current.start:%Y-%m-%d} and {current.end:%Y-%m-%d}"
totals = queries.totals(current.start, current.end, current.creator_id)
overall = totals[totals["is_total"].astype(bool)]
if overall.empty or not int(overall["stories"].fillna(0).iloc[0]):
    who = (
        f"by {filters.creator_names().get(current.creator_id, current.creator_id)}"
        if current.creator_id
        else "by any creator"
    )
    st.info(
        f"No stories {who} were first viewed {period} (UTC days). Stories appear here once "
        "viewers open them and the next dbt build publishes them; try a longer period or "
        "another creator."
    )
    st.stop()
total = overall.iloc[0]

previous: pd.Series | None = None
if current.compare:
    previous_start, previous_end = current.previous
    before = queries.totals(previous_start, previous_end, current.creator_id)
    before = before[before["is_total"].astype(bool)]
    if not before.empty:
        previous = before.iloc[0]


def _previous(column: str) -> float | None:
    if previous is None or pd.isna(previous[column]):
        return None
    return float(previous[column])


st.caption(f"Stories first viewed {period} (UTC days). Rates are over all of them together.")
columns = st.columns(7)
headline = [
    ("Stories", "stories", "{:,.0f}", None),
    ("Reach", "reach", "{:,.0f}", "story_reach"),
    ("Completion rate", "completion_rate_pct", "{:.2f} %", "story_completion_rate_pct"),
    ("Reaction rate", "reaction_rate_pct", "{:.2f} %", "story_reaction_rate_pct"),
    (
        "Story-to-live conversion",
        "story_to_live_conversion_pct",
        "{:.2f} %",
        "story_to_live_conversion_pct",
    ),
    ("Valid reactions", "valid_reactions", "{:,.0f}", "valid_reactions"),
    ("Invalid reactions", "invalid_reactions", "{:,.0f}", "invalid_reactions"),
]
for column, (label, name, value_format, definition_name) in zip(columns, headline, strict=True):
    value = total[name]
    components.show_metric(
        column,
        label,
        None if pd.isna(value) else float(value),
        value_format,
        previous=_previous(name),
        definition_name=definition_name,
        lower_is_better=name == "invalid_reactions",
    )
forward_col, back_col, exit_col, _ = st.columns(4)
for column, (label, name, definition_name) in zip(
    (forward_col, back_col, exit_col),
    [
        ("Tap-forward rate", "tap_forward_rate_pct", "story_tap_forward_rate_pct"),
        ("Tap-back rate", "tap_back_rate_pct", "story_tap_back_rate_pct"),
        ("Exit rate", "exit_rate_pct", "story_exit_rate_pct"),
    ],
    strict=True,
):
    value = total[name]
    components.show_metric(
        column,
        label,
        None if pd.isna(value) else float(value),
        "{:.2f} %",
        previous=_previous(name),
        definition_name=definition_name,
        lower_is_better=name == "exit_rate_pct",
    )
if pd.isna(total["story_to_live_conversion_pct"]):
    st.caption("None of these stories announces a live stream, so there is no conversion.")

has_reasons = queries.has_reasons()
reasons = (
    queries.reasons(current.start, current.end, current.creator_id)
    if has_reasons
    else pd.DataFrame(columns=queries.REASON_COLUMNS)
)

funnel_col, reasons_col = st.columns(2)
with funnel_col:
    st.altair_chart(funnel_chart(total), width="stretch")
    st.caption(
        "Converted viewers count only in stories that announce a live stream. "
        + definitions.definition("story_to_live_conversion_pct")
    )
with reasons_col:
    show_reasons(
        reasons, has_reasons, int(total["valid_reactions"]), int(total["invalid_reactions"])
    )

st.subheader("Stories")
story_rows = queries.stories(current.start, current.end, current.creator_id)
story_rows = story_rows.merge(
    reasons[["story_id", *queries.REASON_LABELS]], on="story_id", how="left"
)
if int(total["stories"]) > len(story_rows):
    st.caption(
        f"The {len(story_rows):,} stories with the most reach, of {int(total['stories']):,}."
    )
story_labels = (
    STORY_LABELS
    if has_reasons
    else {k: v for k, v in STORY_LABELS.items() if k not in queries.REASON_LABELS}
)
show_table(story_rows, story_labels, "stories.csv")
show_links(
    "Open a story on the Content page:",
    "content",
    [
        (f"{story.story_title} ({story.creator_name})", {"content": str(story.story_id)})
        for story in story_rows.head(LINKED_STORIES).itertuples(index=False)
    ],
)

st.subheader("Per creator")
per_creator = totals[~totals["is_total"].astype(bool)]
show_table(per_creator, CREATOR_LABELS, "stories_per_creator.csv")
show_links(
    "Open a creator's page:",
    "creator",
    [
        (str(creator.creator_name), {"creator": str(creator.creator_id)})
        for creator in per_creator.head(LINKED_STORIES).itertuples(index=False)
    ],
)
