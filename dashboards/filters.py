"""The filters every page shares, kept in the URL query string so a view can be shared.

The sidebar widgets are rendered once by `streamlit_app.py`, before the page runs, with
`bind="query-params"`: a URL such as `/creators?range=28d&platform=ios&compare=true` opens
with those filters, and changing a filter updates the URL. A value equal to its default is
left out of the URL; an unknown value (a creator that no longer exists) is dropped.

Query parameters: `range` (1d, 7d, 28d, 90d, custom), `days` (two ISO dates, with
`range=custom`), `compare` (also show the previous period of the same length), `creator`,
`type`, `platform`, `country`. Date presets end at the newest UTC day with data, so a
paused demo still shows its last week rather than an empty one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd
import streamlit as st

from dashboards import data

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
    "platforms": "select distinct platform as value from main.views order by 1",
    "countries": "select distinct country as value from main.views order by 1",
}


def creator_names() -> dict[str, str]:
    """creator_id -> display name (the catalogue's name, else the id), ordered by name."""
    frame = data.query(_OPTIONS_SQL["creators"], columns=["creator_id", "display_name"])
    return dict(zip(frame["creator_id"], frame["display_name"], strict=True))


def _values(kind: str) -> list[str]:
    try:
        frame: pd.DataFrame = data.query(_OPTIONS_SQL[kind], columns=["value"])
    except duckdb.CatalogException:  # a warehouse without the views mart: no options
        return []
    return [str(value) for value in frame["value"] if value is not None]


def _all_or(label: str, names: Mapping[str, str] | None = None) -> Callable[[str | None], str]:
    def format_value(value: str | None) -> str:
        if value is None:
            return label
        return (names or {}).get(value, value)

    return format_value


def _accept_raw_value(
    key: str, options: list[str | None], format_value: Callable[[str | None], str]
) -> bool:
    """Let a URL name an option by its value (`type=story`, `creator=cr_1`, `range=28d`).

    `bind="query-params"` writes and reads a selectbox's formatted label (`type=Story`,
    `creator=Creator+g`); on a page's first load a raw value in the URL selects its option
    instead of being dropped as unknown. The URL then shows the label again. True when the
    value was taken (the widget must then have no default of its own).
    """
    raw = st.query_params.get(key)
    if raw is None or key in st.session_state:
        return False
    if raw in options and raw not in {format_value(option) for option in options}:
        st.session_state[key] = raw
        return True
    return False


def render_sidebar(status: data.ServingStatus) -> Filters:
    """Draw the shared filters in the sidebar, remember them for the page, return them."""
    assert status.first_day is not None and status.last_day is not None
    names = creator_names()
    with st.sidebar:
        st.header("Filters")
        raw_range = _accept_raw_value("range", [*PRESETS], lambda key: PRESETS[str(key)][0])
        preset = st.selectbox(
            "Period",
            list(PRESETS),
            index=None if raw_range else list(PRESETS).index(DEFAULT_PRESET),
            format_func=lambda key: PRESETS[key][0],
            key="range",
            bind="query-params",
            help="UTC days, ending at the newest day with data.",
        )
        start, end = preset_range(preset or DEFAULT_PRESET, status.last_day, status.first_day)
        if preset == "custom":
            picked = st.date_input(
                "UTC days",
                value=(start, end),
                min_value=status.first_day,
                max_value=status.last_day,
                format="YYYY-MM-DD",
                key="days",
                bind="query-params",
                help="Both ends included.",
            )
            start, end = _picked_range(picked, (start, end))
        compare = st.toggle(
            "Compare to previous period",
            value=False,
            key="compare",
            bind="query-params",
            help="Show each headline number's change against the period of the same "
            "length just before.",
        )
        _accept_raw_value("creator", [None, *names], _all_or("All creators", names))
        creator_id = st.selectbox(
            "Creator",
            [None, *names],
            format_func=_all_or("All creators", names),
            key="creator",
            bind="query-params",
        )
        _accept_raw_value("type", [None, *CONTENT_TYPES], _all_or("All types", CONTENT_TYPE_LABELS))
        content_type = st.selectbox(
            "Content type",
            [None, *CONTENT_TYPES],
            format_func=_all_or("All types", CONTENT_TYPE_LABELS),
            key="type",
            bind="query-params",
        )
        platform = st.selectbox(
            "Platform",
            [None, *_values("platforms")],
            format_func=_all_or("All platforms"),
            key="platform",
            bind="query-params",
        )
        country = st.selectbox(
            "Country",
            [None, *_values("countries")],
            format_func=_all_or("All countries"),
            key="country",
            bind="query-params",
        )
    filters = Filters(start, end, bool(compare), creator_id, content_type, platform, country)
    st.session_state[SESSION_KEY] = filters
    return filters


def current() -> Filters:
    """The filters drawn by `render_sidebar` in this rerun."""
    filters = st.session_state.get(SESSION_KEY)
    if not isinstance(filters, Filters):
        raise RuntimeError("filters.render_sidebar() must run before the page")
    return filters


def _picked_range(picked: object, fallback: tuple[date, date]) -> tuple[date, date]:
    """The (start, end) of the date input; while only a start is picked, that single day."""
    if isinstance(picked, date):
        return picked, picked
    if isinstance(picked, tuple | list):
        days = [day for day in picked if isinstance(day, date)]
        if len(days) >= 2:
            return min(days[0], days[1]), max(days[0], days[1])
        if len(days) == 1:
            return days[0], days[0]
    return fallback
