"""Widgets whose value is kept in the URL query string as the option's value, not its label.

Streamlit's own `bind="query-params"` writes a widget's formatted label to the URL
(`creator=Creator+g`, `range=Last+28+days`) and a browser then drops a link that names the
value (`creator=cr_1`). Here each widget is seeded from its query parameter when the session
first sees it (the value, or for convenience its label), and after it is drawn the URL is
updated to the value; a value equal to its default is left out, an unknown one is dropped.
Every page's run rewrites the parameters, so they survive navigating between pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

T = TypeVar("T")
DAYS_SEPARATOR = ".."
_WRITTEN_KEY = "_marquee_url_written"


def _written() -> dict[str, str | None]:
    """What this session last wrote to each parameter (to tell a link from our own write)."""
    written: dict[str, str | None] = st.session_state.setdefault(_WRITTEN_KEY, {})
    return written


def _incoming(key: str) -> str | None:
    """The parameter's value when the URL brings a new one: a page opened by its URL or by
    a link naming it. None when the URL holds what this session wrote, or nothing (Streamlit
    clears unbound parameters on a page switch; the widget keeps its value then)."""
    raw = st.query_params.get(key)
    if raw is None or (key in st.session_state and raw == _written().get(key)):
        return None
    return raw


def _seed(key: str, options: Sequence[T], default: T, label: Callable[[T], str]) -> None:
    """Put the URL's value (or the default) into the widget's state before it is drawn."""
    raw = _incoming(key)
    if raw is None and key in st.session_state and st.session_state[key] in options:
        return
    chosen = default
    if raw is not None:
        by_value = {str(option): option for option in options if option is not None}
        by_label = {label(option): option for option in options}
        chosen = by_value.get(raw, by_label.get(raw, default))
    if chosen is None:
        # A widget whose state is set to None shows nothing selected ("Choose an option");
        # without a state it shows its first option, None ("All ...").
        if key in st.session_state:
            del st.session_state[key]
        return
    st.session_state[key] = chosen


def _write(key: str, value: object, default: object) -> None:
    """Keep the URL's parameter equal to the value; absent when it is the default."""
    text = None if value is None or value == default else value_text(value)
    _written()[key] = text
    if text is None:
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != text:
        st.query_params[key] = text


def value_text(value: object) -> str:
    """How a value is written in the URL: dates ISO, ranges `start..end`, booleans true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return DAYS_SEPARATOR.join(value_text(part) for part in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def selectbox(
    label: str,
    options: Sequence[T],
    *,
    key: str,
    default: T,
    format_func: Callable[[T], str] = str,
    container: DeltaGenerator | None = None,
    **kwargs: Any,
) -> T:
    """st.selectbox kept in the URL parameter `key`. None may be an option ("All"), as the
    first one."""
    options = list(options)
    _seed(key, options, default, format_func)
    value: T = (container or st).selectbox(
        label, options, format_func=format_func, key=key, **kwargs
    )
    _write(key, value, default)
    return value


def radio(
    label: str,
    options: Sequence[T],
    *,
    key: str,
    default: T,
    format_func: Callable[[T], str] = str,
    container: DeltaGenerator | None = None,
    **kwargs: Any,
) -> T:
    """st.radio kept in the URL parameter `key`."""
    options = list(options)
    _seed(key, options, default, format_func)
    value: T = (container or st).radio(label, options, format_func=format_func, key=key, **kwargs)
    _write(key, value, default)
    return value


def toggle(
    label: str, *, key: str, default: bool = False, container: DeltaGenerator | None = None,
    **kwargs: Any,
) -> bool:  # fmt: skip
    """st.toggle kept in the URL parameter `key` (`true`/`false`)."""
    raw = _incoming(key)
    if raw is not None:
        st.session_state[key] = raw.lower() in ("true", "1", "yes")
    elif key not in st.session_state:
        st.session_state[key] = default
    value = bool((container or st).toggle(label, key=key, **kwargs))
    _write(key, value, default)
    return value


def date_range(
    label: str,
    *,
    key: str,
    default: tuple[date, date],
    min_value: date,
    max_value: date,
    container: DeltaGenerator | None = None,
    **kwargs: Any,
) -> tuple[date, date]:
    """st.date_input over a range, kept in the URL as `key=YYYY-MM-DD..YYYY-MM-DD`; a range
    outside [min_value, max_value] or unreadable falls back to the default."""
    incoming = _parse_days(_incoming(key), min_value, max_value)
    kept = st.session_state.get(key)
    kept_fits = isinstance(kept, tuple | list) and all(
        isinstance(day, date) and min_value <= day <= max_value for day in kept
    )
    if incoming is not None or not kept_fits:
        st.session_state[key] = incoming or default
    picked = (container or st).date_input(
        label, min_value=min_value, max_value=max_value, key=key, **kwargs
    )
    days = picked_range(picked, default)
    _write(key, days, default)
    return days


def _parse_days(raw: str | None, low: date, high: date) -> tuple[date, date] | None:
    if not raw:
        return None
    try:
        start, end = (date.fromisoformat(part) for part in raw.split(DAYS_SEPARATOR, 1))
    except ValueError:
        return None
    start, end = min(start, end), max(start, end)
    if start < low or end > high:
        return None
    return start, end


def picked_range(picked: object, fallback: tuple[date, date]) -> tuple[date, date]:
    """The (start, end) of a date input; while only a start is picked, that single day."""
    if isinstance(picked, date):
        return picked, picked
    if isinstance(picked, tuple | list):
        days = [day for day in picked if isinstance(day, date)]
        if len(days) >= 2:
            return min(days[0], days[1]), max(days[0], days[1])
        if len(days) == 1:
            return days[0], days[0]
    return fallback
