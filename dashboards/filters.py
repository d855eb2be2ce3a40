"""The filters every page shares, kept in the URL query string so a view can be shared.

The sidebar widgets are rendered by `streamlit_app.py` on every run, before the page, through
`dashboards.url_state`: a URL such as `/creators?range=28d&creator=cr_1&compare=true` opens
with those filters, and changing a filter updates the URL. A value equal to its default is
left out of the URL; an unknown value (a creator that no longer exists) is dropped.

Query parameters: `range` (1d, 7d, 28d, 90d, custom), `days` (`YYYY-MM-DD..YYYY-MM-DD`, with
`range=custom`), `compare` (also show the previous period of the same length), `creator`,
`type`, `platform`, `country`. Date presets end at the newest UTC day with data, so a paused
demo still shows its last week rather than an empty one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd
import streamlit as st

from dashboards import data, url_state

PRESETS: dict[str, tuple[str, int | None]] = {
    "1d": ("Last day", 1),
    "7d": ("Last 7 days", 7),
    "28d": ("Last 28 days", 28),
    "90d": ("Last 90 days", 90),
    "custom": ("Custom range", None),
}
DEFAULT_PRESET = "7d"
CONTENT_TYPES = ("live", "vod", "clip", "story")
CONTENT_TYPE_LABELS = {"live": "Live", "vod": "VOD", "clip": "Clip", "story": "Story"}
SESSION_KEY = "marquee_filters"


@dataclass(frozen=True)
class Filters:
    """The shared filters of one rerun. None means "all"."""

    start: date
    end: date
    compare: bool = False
    creator_id: str | None = None
    content_type: str | None = None
    platform: str | None = None
    country: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        """The period of the same length that ends the day before `start`."""
        return self.start - timedelta(days=self.days), self.start - timedelta(days=1)

    @property
    def dimensions(self) -> list[str | None]:
        """creator, content type, platform, country: the `?` parameters of queries that
        filter with `(? is null or column = ?)`, each value given twice by `twice`."""
        return [self.creator_id, self.content_type, self.platform, self.country]


def twice(values: list[str | None]) -> list[str | None]:
    """[a, b] -> [a, a, b, b], for SQL written as `(? is null or x = ?)` per filter."""
    return [value for value in values for _ in range(2)]


def preset_range(preset: str, last_day: date, first_day: date) -> tuple[date, date]:
    """The days of a preset, ending at `last_day` and starting no earlier than `first_day`."""
    length = PRESETS[preset][1] or PRESETS[DEFAULT_PRESET][1] or 7
    return max(first_day, last_day - timedelta(days=length - 1)), last_day


_OPTIONS_SQL = {
    "creators": """
        select creator_id, coalesce(max(creator_name), creator_id) as display_name
        from main.creator_daily_performance
        group by creator_id
        order by lower(display_name), creator_id
    """,
    # dimension_daily_qoe's platform and country rows partition each day's views by those
    # values (never folded into 'other'), so their values are exactly the playback_sessions mart's,
    # read from a few thousand rows instead of every view.
    "platforms": """
        select distinct dimension_value as value from main.dimension_daily_qoe
        where dimension = 'platform' order by 1
    """,
    "countries": """
        select distinct dimension_value as value from main.dimension_daily_qoe
        where dimension = 'country' order by 1
    """,
}


def creator_names() -> dict[str, str]:
    """creator_id -> display name (the catalogue's name, else the id), ordered by name."""
    frame = data.query(_OPTIONS_SQL["creators"], columns=["creator_id", "display_name"])
    return dict(zip(frame["creator_id"], frame["display_name"], strict=True))


def _values(kind: str) -> list[str]:
    try:
        frame: pd.DataFrame = data.query(_OPTIONS_SQL[kind], columns=["value"])
    except duckdb.CatalogException:  # a warehouse without the QoE mart: no options
        return []
    return [str(value) for value in frame["value"] if value is not None]


def _all_or(label: str, names: Mapping[str, str] | None = None) -> Callable[[str | None], str]:
    def format_value(value: str | None) -> str:
        if value is None:
            return label
        return (names or {}).get(value, value)

    return format_value


def render_sidebar(status: data.ServingStatus) -> Filters:
    """Draw the shared filters in the sidebar, remember them for the page, return them."""
    assert status.first_day is not None and status.last_day is not None
    names = creator_names()
    with st.sidebar:
        st.header("Filters")
        preset = url_state.selectbox(
            "Period",
            list(PRESETS),
            key="range",
            default=DEFAULT_PRESET,
            format_func=lambda key: PRESETS[key][0],
            help="UTC days, ending at the newest day with data.",
        )
        start, end = preset_range(preset, status.last_day, status.first_day)
        if preset == "custom":
            start, end = url_state.date_range(
                "UTC days",
                key="days",
                default=(start, end),
                min_value=status.first_day,
                max_value=status.last_day,
                format="YYYY-MM-DD",
                help="Both ends included.",
            )
        compare = url_state.toggle(
            "Compare to previous period",
            key="compare",
            help="Show each headline number's change against the period of the same "
            "length just before.",
        )
        creator_id = url_state.selectbox(
            "Creator",
            [None, *names],
            key="creator",
            default=None,
            format_func=_all_or("All creators", names),
        )
        content_type = url_state.selectbox(
            "Content type",
            [None, *CONTENT_TYPES],
            key="type",
            default=None,
            format_func=_all_or("All types", CONTENT_TYPE_LABELS),
        )
        platform = url_state.selectbox(
            "Platform",
            [None, *_values("platforms")],
            key="platform",
            default=None,
            format_func=_all_or("All platforms"),
        )
        country = url_state.selectbox(
            "Country",
            [None, *_values("countries")],
            key="country",
            default=None,
            format_func=_all_or("All countries"),
        )
    filters = Filters(start, end, compare, creator_id, content_type, platform, country)
    st.session_state[SESSION_KEY] = filters
    return filters


def current() -> Filters:
    """The filters drawn by `render_sidebar` in this rerun."""
    filters = st.session_state.get(SESSION_KEY)
    if not isinstance(filters, Filters):
        raise RuntimeError("filters.render_sidebar() must run before the page")
    return filters
