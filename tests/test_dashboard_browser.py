"""Real-browser check of the running dashboards: a Streamlit server and Debian's chromium.

One `streamlit run dashboards/streamlit_app.py` on a free 127.0.0.1 port serves the golden
scenario's warehouse (tests.support.dashboards.golden_data_dir) to every test here; headless
/usr/bin/chromium (the apt package `chromium`, which `make test` installs) opens each page
through its own URL with the shared filters in the query string, as a shared link would, and
reads what the browser shows. The server, the browser and the waiting are those of
tools/screenshots.py, which `make screenshots` runs to take the pictures.

What counts as broken on a page:
- any `stException` element: an uncaught exception (Streamlit prints it in the page) or an
  st.exception;
- any red st.error alert (`stAlertContentError`) except the freshness warning, the one red
  alert pages show by design (components.show_freshness when the data is hours old, as the
  golden scenario's is). Anything else in red is an error the page caught and printed;
- any console error or uncaught JavaScript exception, except the 404s of Streamlit's own
  base-path probe (tools.screenshots.BrowserErrors.unexpected says which);
- anything drawn above the page's title: Streamlit's "magic" writes out a bare string
  literal of a page module, such as an attribute docstring under a constant;
- another page than the one asked for (Streamlit runs the main page, with a "Page not found"
  dialog, for a URL path it does not know), or a filter of the URL that the sidebar does not
  show or that the URL loses.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page

from dashboards.navigation import ALL_PAGES, PageSpec
from marquee.layout import DataLayout
from tests.support.dashboards import golden_data_dir
from tools.screenshots import (
    PageOpener,
    chromium_pages,
    error_alerts_shown,
    exceptions_shown,
    golden_params,
    page_title,
    page_url,
    streamlit_server,
    text_before_title,
)

# The empty state polls every 10 s (components.EMPTY_STATE_POLL_S); allow a few polls.
DATA_APPEARS_TIMEOUT_MS = 45_000

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# What the sidebar shows for golden_params' filters (?range=28d&compare=true&creator=cr_g_1
# &platform=web&country=ZZ): the preset's label, the creator's name, the values themselves.
SHOWN_FILTERS = {
    "Period": "Last 28 days",
    "Creator": "Creator g",
    "Platform": "web",
    "Country": "ZZ",
}


@pytest.fixture(scope="module")
def golden_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return golden_data_dir(tmp_path_factory)[1]


@pytest.fixture(scope="module")
def app_url(golden_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for every page: starting Streamlit takes a few seconds."""
    log = tmp_path_factory.mktemp("streamlit") / "streamlit.log"
    with streamlit_server(golden_dir, log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[PageOpener]:
    with chromium_pages() as opener:
        yield opener


def shown_filters(page: Page) -> dict[str, str]:
    return {
        label: page.get_by_role("combobox", name=label, exact=True).input_value()
        for label in SHOWN_FILTERS
    }


def active_nav_link(page: Page) -> str:
    link = page.locator("[data-testid=stSidebarNavLink][aria-current=page]")
    return link.inner_text().strip()


@pytest.mark.parametrize("spec", ALL_PAGES, ids=lambda spec: spec.url_path)
def test_page_opens_through_its_url_with_filters_and_no_error(
    app_url: str, browser: PageOpener, spec: PageSpec
) -> None:
    params = golden_params(spec.url_path)
    with browser.open(page_url(app_url, spec.url_path, params)) as opened:
        page = opened.page
        # Every check is read before any fails, so one run says all that is wrong.
        found = {
            "exceptions": exceptions_shown(page),
            "red alerts": error_alerts_shown(page),
            "browser errors": opened.errors.unexpected(),
            # The page asked for, not the main page Streamlit falls back to for an unknown
            # URL path.
            "url path": urlsplit(page.url).path,
            "current page in the navigation": active_nav_link(page),
            "has a title": bool(page_title(page)),
            "text above the title": text_before_title(page),
            # Each filter of the query string is the widget's value...
            "filters shown": shown_filters(page),
            "compare": page.get_by_role("switch", name="Compare to previous period").is_checked(),
            # ... and stays in the URL, as the value or as the label the widget writes back
            # (test_shared_url_opens_the_same_filters), so the address bar can be shared.
            "query parameters kept": sorted(parse_qs(urlsplit(page.url).query)),
        }
    assert found == {
        "exceptions": [],
        "red alerts": [],
        "browser errors": [],
        "url path": f"/{spec.url_path}",
        "current page in the navigation": spec.title,
        "has a title": True,
        "text above the title": [],
        "filters shown": SHOWN_FILTERS,
        "compare": True,
        "query parameters kept": sorted(params),
    }


def test_shared_url_opens_the_same_filters(app_url: str, browser: PageOpener) -> None:
    """The URL in the address bar after a page opened, sent to a colleague, opens the same
    view: what the widgets wrote back into the query string reads back as the same filters."""
    params = golden_params("quality")
    with browser.open(page_url(app_url, "quality", params)) as opened:
        shared = opened.page.url
    with browser.open(shared) as reopened:
        assert shown_filters(reopened.page) == SHOWN_FILTERS
        switch = reopened.page.get_by_role("switch", name="Compare to previous period")
        assert switch.is_checked()
        assert reopened.page.url == shared


def test_empty_state_then_data_appears_without_reload(
    golden_dir: Path, browser: PageOpener, tmp_path: Path
) -> None:
    """Before the first build the page explains what is missing; once serving.duckdb is
    published the open page shows the data by itself (the empty state polls)."""
    data_dir = tmp_path / "data"
    with (
        streamlit_server(data_dir, tmp_path / "streamlit.log") as url,
        browser.open(page_url(url, "quality", {})) as opened,
    ):
        page = opened.page
        page.get_by_text("appears after the first pipeline run and dbt build").wait_for()
        assert page.get_by_role("combobox", name="Period").count() == 0

        serving = DataLayout(data_dir).serving_db
        serving.parent.mkdir(parents=True)
        staging = serving.with_name("serving.duckdb.tmp")
        shutil.copyfile(DataLayout(golden_dir).serving_db, staging)
        staging.rename(serving)  # published as dbt's loop does, by an atomic rename

        page.get_by_role("combobox", name="Period").wait_for(timeout=DATA_APPEARS_TIMEOUT_MS)
        assert not page.get_by_text("appears after the first pipeline run").is_visible()
        assert exceptions_shown(page) == []
        assert opened.errors.unexpected() == []
