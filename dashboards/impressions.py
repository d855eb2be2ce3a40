"""The "Impressions and click-through" sections of the Creators, Creator and Content pages.

Impressions (`content_impression`) and the impression click-through rate per surface
(METRICS.md "Discovery": views whose `play_requested.surface` is the surface / that
surface's impressions, per day; no rate without impressions), over the filter period, from
`main.creator_daily_impressions` and `main.content_daily_impressions`
(`dashboards.queries.impressions`). Impressions have no platform or country, so those
filters do not narrow them; the content type filter does not either on the creator pages
(the creator mart sums all the creator's content).
"""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import components
from dashboards.definitions import definition
from dashboards.queries import impressions as queries

TITLE = "Impressions and click-through"
SURFACE_LABELS = {
    "surface": "Surface",
    "impressions": "Impressions",
    "surfaced_views": "Views from the surface",
    "impression_ctr_pct": "CTR %",
}
SURFACE_CONFIG = {
    "Impressions": st.column_config.NumberColumn(
        format="localized", help=definition("impressions")
    ),
    "Views from the surface": st.column_config.NumberColumn(
        format="localized", help=definition("surfaced_views")
    ),
    "CTR %": st.column_config.NumberColumn(format="%.2f", help=definition("impression_ctr")),
}
TOP_LABELS = {
    "creator_name": "Creator",
    "impressions": "Impressions",
    **{f"{surface}_ctr_pct": f"{surface.capitalize()} CTR %" for surface in queries.SURFACES},
}
TOP_CONFIG = {
    "Impressions": st.column_config.NumberColumn(
        format="localized", help=definition("impressions")
    ),
    **{
        f"{surface.capitalize()} CTR %": st.column_config.NumberColumn(
            format="%.2f", help=definition("creator_impression_ctr")
        )
        for surface in queries.SURFACES
    },
}
TOP_ROWS = 20
NOT_FILTERED = "Impressions carry no platform or country: those filters do not apply here."


def _missing(table: str) -> None:
    st.caption(f"The serving warehouse has no {table} table yet: impressions cannot be shown.")


def _headline(per_surface: pd.DataFrame) -> None:
    """Total impressions, and the CTR of the surface with the most impressions."""
    total = float(per_surface["impressions"].sum())
    top = per_surface.iloc[0]
    top_ctr = top["impression_ctr_pct"]
    left, right = st.columns(2)
    components.show_metric(left, "Impressions", total, "{:,.0f}", definition_name="impressions")
    components.show_metric(
        right,
        f"CTR on {top['surface']}",
        None if pd.isna(top_ctr) else float(top_ctr),
        "{:.2f} %",
        definition_name="impression_ctr",
    )


def _surface_table(per_surface: pd.DataFrame) -> None:
    st.dataframe(
        components.readable(per_surface, SURFACE_LABELS),
        hide_index=True,
        column_config=SURFACE_CONFIG,
    )


def show_creators_impressions(start: date, end: date, creator_id: str | None) -> None:
    """Creators page: per surface over every creator (or the filtered one), and the creators
    with the most impressions with their CTR per surface."""
    st.subheader(TITLE)
    if not queries.available(queries.CREATOR_TABLE):
        _missing(queries.CREATOR_TABLE)
        return
    per_surface = queries.creators_per_surface(start, end, creator_id)
    if per_surface.empty or per_surface["impressions"].sum() == 0:
        st.info(f"No impression was reported from {start} to {end}.")
        return
    _headline(per_surface)
    _surface_table(per_surface)
    top = queries.top_creators(start, end, creator_id, TOP_ROWS)
    st.caption(
        f"The {TOP_ROWS} creators with the most impressions, with the click-through rate of "
        f"each surface over all their content (none without impressions). {NOT_FILTERED}"
    )
    st.dataframe(components.readable(top, TOP_LABELS), hide_index=True, column_config=TOP_CONFIG)


def show_creator_impressions(creator_id: str, name: str, start: date, end: date) -> None:
    """Creator page: per surface over the period, and impressions per day and surface."""
    st.subheader(TITLE)
    if not queries.available(queries.CREATOR_TABLE):
        _missing(queries.CREATOR_TABLE)
        return
    per_surface = queries.creators_per_surface(start, end, creator_id)
    if per_surface.empty or per_surface["impressions"].sum() == 0:
        st.info(f"No impression of {name}'s content was reported from {start} to {end}.")
        return
    _headline(per_surface)
    _surface_table(per_surface)
    daily = queries.creator_daily(creator_id, start, end)
    if not daily.empty:
        chart = (
            alt.Chart(daily)
            .mark_line(point=True)
            .encode(
                x=alt.X("day:T", title="UTC day"),
                y=alt.Y("impression_ctr_pct:Q", title="CTR %"),
                color=alt.Color("surface:N", title="Surface"),
                tooltip=["day:T", "surface:N", "impressions:Q", "impression_ctr_pct:Q"],
            )
            .properties(title="Click-through rate per day and surface", height=220)
        )
        st.altair_chart(chart, width="stretch")
    st.caption(f"All of {name}'s content, whatever the content type filter. {NOT_FILTERED}")


def show_content_impressions(content_id: str, start: date, end: date) -> None:
    """Content page: the content's impressions and CTR per surface over the period."""
    st.subheader(TITLE)
    if not queries.available(queries.CONTENT_TABLE):
        _missing(queries.CONTENT_TABLE)
        return
    per_surface = queries.content_per_surface(content_id, start, end)
    if per_surface.empty:
        st.info(f"No impression or view from a surface was reported from {start} to {end}.")
        return
    if per_surface["impressions"].sum() > 0:
        _headline(per_surface)
    _surface_table(per_surface)
    st.caption(
        "A surface's views count only on the days it had impressions; views without a "
        f"surface count nowhere. {NOT_FILTERED}"
    )
