"""The shared filters live in the URL as values: a link opens with them, the address bar
keeps them after each run, a link followed within the session re-seeds them, and a page
switch (Streamlit clears unbound query parameters then) keeps them. Through AppTest over the
golden scenario's real build; the real-browser side is in tests/test_dashboard_browser.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.navigation import page_path
from tests.support.dashboards import open_page

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture
def data_dir(golden_dir: Path) -> Path:
    """Every test here opens the dashboards on the golden warehouse."""
    return golden_dir


def test_a_url_naming_values_opens_with_them_and_keeps_them(data_dir: Path) -> None:
    at = open_page("creators", {"range": "28d", "creator": "cr_g_1", "type": "vod"})

    assert at.sidebar.selectbox(key="range").value == "28d"
    assert at.sidebar.selectbox(key="creator").value == "cr_g_1"
    assert at.sidebar.selectbox(key="type").value == "vod"
    assert {k: at.query_params[k] for k in ("range", "creator", "type")} == {
        "range": "28d",
        "creator": "cr_g_1",
        "type": "vod",
    }


def test_a_label_is_accepted_and_written_back_as_the_value(data_dir: Path) -> None:
    at = open_page("creators", {"type": "Story", "range": "Last 28 days"})

    assert at.sidebar.selectbox(key="type").value == "story"
    assert at.query_params["type"] == "story"
    assert at.query_params["range"] == "28d"


def test_defaults_and_unknown_values_stay_out_of_the_url(data_dir: Path) -> None:
    at = open_page("creators", {"range": "7d", "creator": "no_such_creator"})

    assert at.sidebar.selectbox(key="creator").value is None
    assert "creator" not in at.query_params
    assert "range" not in at.query_params


def test_changing_a_filter_updates_the_url(data_dir: Path) -> None:
    at = open_page("creators")

    at.sidebar.selectbox(key="type").select("live").run()
    at.sidebar.toggle(key="compare").set_value(True).run()

    assert at.query_params["type"] == "live"
    assert at.query_params["compare"] == "true"


def test_a_link_within_the_session_reseeds_the_filter(data_dir: Path) -> None:
    at = open_page("creators")
    assert at.sidebar.selectbox(key="creator").value is None

    at.query_params["creator"] = "cr_g_1"  # what st.page_link(..., query_params=) does
    at.switch_page(page_path("creator")).run()

    assert not at.exception
    assert at.sidebar.selectbox(key="creator").value == "cr_g_1"
    assert "Creator g" in [h.value for h in at.header]


def test_a_page_switch_that_clears_the_query_string_keeps_the_filters(data_dir: Path) -> None:
    at = open_page("creators", {"type": "vod", "platform": "web"})

    for name in list(at.query_params):
        del at.query_params[name]  # Streamlit clears unbound parameters on navigation
    at.switch_page(page_path("quality")).run()

    assert not at.exception
    assert at.sidebar.selectbox(key="type").value == "vod"
    assert at.sidebar.selectbox(key="platform").value == "web"
    assert at.query_params["type"] == "vod"
