"""Ads page: how the ads played in the filter period.

Headline impressions, completion, skip rate and click-through rate (with the change against
the previous period), the quartile funnel (impressions, then the plays that reached 25, 50,
75 and 100 %), the plays seen without an impression, and one table per ad, break position,
creator and format. Everything is summed from `main.ad_placement_daily_performance` (one row
per day, content, ad, position and format, with the content's creator and type), so the
creator and content type filters apply to every table (`dashboards.queries.ads`). The ad
marts have no platform or country: those filters do not apply here, and the page says so.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from dashboards import components, data, definitions, filters
from dashboards.queries import ads as queries

CHART_HEIGHT_PX = 280
REQUIRED_TABLE = "ad_placement_daily_performance"

# column, label, value format, docs block, lower is better
HEADLINE = (
    ("ad_impressions", "Impressions", "{:,.0f}", "ad_impressions", False),
    ("ad_completion_rate_pct", "Completion %", "{:.2f} %", "ad_completion_rate_pct", False),
    ("skip_rate_pct", "Skip rate %", "{:.2f} %", "ad_skip_rate_pct", True),
    ("ctr_pct", "CTR %", "{:.2f} %", "ad_ctr_pct", False),
    (
        "ad_plays_without_impression",
        "Plays without impression",
        "{:,.0f}",
        "ad_plays_without_impression",
        True,
    ),
)
FUNNEL = (
    ("ad_impressions", "Impressions", None),
    ("ad_q25", "25 %", "q25_reach_pct"),
    ("ad_q50", "50 %", "q50_reach_pct"),
    ("ad_q75", "75 %", "q75_reach_pct"),
    ("ad_q100", "100 %", "q100_reach_pct"),
)
TABLE_LABELS = {
    "ad_formats": "Format",
    "ad_impressions": "Impressions",
    "q25_reach_pct": "Reached 25 %",
    "q50_reach_pct": "Reached 50 %",
    "q75_reach_pct": "Reached 75 %",
    "q100_reach_pct": "Reached 100 %",
    "ad_completion_rate_pct": "Completion %",
    "skip_rate_pct": "Skip rate %",
    "ctr_pct": "CTR %",
    "ad_plays_without_impression": "Plays without impression",
}
TABLE_DOCS = {
    "ad_formats": "ad_format",
    "ad_impressions": "ad_impressions",
    "q25_reach_pct": "ad_quartile_reach_pct",
    "q50_reach_pct": "ad_quartile_reach_pct",
    "q75_reach_pct": "ad_quartile_reach_pct",
    "q100_reach_pct": "ad_quartile_reach_pct",
    "ad_completion_rate_pct": "ad_completion_rate_pct",
    "skip_rate_pct": "ad_skip_rate_pct",
    "ctr_pct": "ad_ctr_pct",
    "ad_plays_without_impression": "ad_plays_without_impression",
}
# grouping: tab title, first column label, its docs block
TABLES = {
    "ad": ("Per ad", "Ad", "ad_id"),
    "position": ("Per break position", "Break position", "ad_position"),
    "creator": ("Per creator", "Creator", "creator_id"),
    "format": ("Per format", "Format", "ad_format"),
}


def _value(frame: pd.DataFrame, column: str) -> float | None:
    if frame.empty or pd.isna(frame[column].iloc[0]):
        return None
    return float(frame[column].iloc[0])


def _funnel_chart(totals: pd.DataFrame) -> alt.Chart:
    row = totals.iloc[0]
    impressions = float(row["ad_impressions"])
    steps = pd.DataFrame(
        {
            "step": [label for _, label, _ in FUNNEL],
            "plays": [int(row[column]) for column, _, _ in FUNNEL],
            "reach_pct": [
                100.0 if reach is None else float(row[reach]) if impressions else None
                for _, _, reach in FUNNEL
            ],
        }
    )
    order = [label for _, label, _ in FUNNEL]
    return (
        alt.Chart(steps, title="Quartile funnel: plays with an impression that reached")
        .mark_bar()
        .encode(
            x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("plays:Q", title="Ad plays"),
            tooltip=[
                alt.Tooltip("step:N", title="Step"),
                alt.Tooltip("plays:Q", title="Plays", format=","),
                alt.Tooltip("reach_pct:Q", title="Of impressions (%)", format=".2f"),
            ],
        )
        .properties(height=CHART_HEIGHT_PX)
    )


def _table_config(first_label: str, first_doc: str) -> dict[str, ColumnConfig]:
    config: dict[str, ColumnConfig] = {
        "name": st.column_config.TextColumn(first_label, help=definitions.definition(first_doc))
    }
    for column, label in TABLE_LABELS.items():
        help_text = definitions.definition(TABLE_DOCS[column])
        if column.endswith("_pct"):
            config[column] = st.column_config.NumberColumn(label, format="%.2f", help=help_text)
        elif column == "ad_formats":
            config[column] = st.column_config.TextColumn(label, help=help_text)
        else:
            config[column] = st.column_config.NumberColumn(
                label, format="localized", help=help_text
            )
    return config


st.title("Ads")
status = components.require_data()
if not data.table_exists(REQUIRED_TABLE):
    st.warning(
        f"The serving warehouse has no main.{REQUIRED_TABLE} yet; this page appears once the "
        "dbt build includes it."
    )
    st.stop()

current = filters.current()
st.caption(components.freshness_caption(status.newest_minute_utc))
if current.platform is not None or current.country is not None:
    st.caption(
        "The platform and country filters do not apply here: ad events are counted per "
        "content, ad and break, and the ad marts keep neither platform nor country. "
        "The numbers below cover every platform and country."
    )

try:
    totals = queries.performance(current, current.start, current.end, "total")
except data.ServingUnavailableError as error:
    st.warning(f"{components.UNAVAILABLE_MESSAGE} ({error})")
    st.stop()

if totals.empty:
    st.info(
        f"No ad plays between {current.start:%Y-%m-%d} and {current.end:%Y-%m-%d} match the "
        "filters. Ads appear once players report ad events (ad_impression, ad_quartile) for "
        "content in the period; widen the period or clear a filter."
    )
    st.stop()

previous = None
if current.compare:
    previous = queries.performance(current, *current.previous, "total")

for column, (name, label, value_format, doc, lower_is_better) in zip(
    st.columns(len(HEADLINE)), HEADLINE, strict=True
):
    components.show_metric(
        column,
        label,
        _value(totals, name),
        value_format,
        previous=None if previous is None else _value(previous, name) or 0.0,
        definition_name=doc,
        lower_is_better=lower_is_better,
    )
st.caption(definitions.definition("ad_play_attribution"))

if _value(totals, "ad_impressions"):
    st.altair_chart(_funnel_chart(totals), width="stretch")
    st.caption(definitions.definition("ad_quartile_reach_pct"))
plays_without = int(totals["ad_plays_without_impression"].iloc[0])
if plays_without:
    st.info(
        f"{plays_without:,} ad plays reached a quartile, a skip or a click without an "
        f"impression ({int(totals['ad_quartiles_without_impression'].iloc[0]):,} quartiles): "
        "their impression was lost, or has not arrived yet. They count in no rate; once a "
        "late impression arrives, the play moves into the rates on its impression's day."
    )

names = filters.creator_names()
for tab, (grouping, (_, first_label, first_doc)) in zip(
    st.tabs([title for title, _, _ in TABLES.values()]), TABLES.items(), strict=True
):
    with tab:
        table = queries.performance(current, current.start, current.end, grouping)
        if grouping == "creator":
            names_shown = table["group_key"].map(lambda key: names.get(key, key))
        elif grouping == "position":
            names_shown = table["group_key"].replace("", "(not named)")
        else:
            names_shown = table["group_key"]
        table = table.assign(name=names_shown)
        labels = {"name": first_label, **TABLE_LABELS}
        st.dataframe(
            table,
            hide_index=True,
            column_order=list(labels),
            column_config=_table_config(first_label, first_doc),
        )
        components.csv_download(
            table, labels, file_name=f"ads_{grouping}_{current.start}_{current.end}.csv"
        )
