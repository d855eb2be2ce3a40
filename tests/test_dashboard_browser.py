"""Real-browser check of the running dashboards: a Streamlit server and Debian's chromium.

Starts `streamlit run dashboards/streamlit_app.py` as a subprocess on a free local port with a
temporary MARQUEE_DATA_DIR, drives /usr/bin/chromium headless through Playwright, and reads what
the page shows. Needs the apt package `chromium` (`make test` installs it). Screenshots
are saved in the test's tmp_path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import free_port
from tests.dashboard_fixtures import APP_SCRIPT, KNOWN_ROWS, REPO_ROOT, write_serving_db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 60
RENDER_TIMEOUT_MS = 60_000
# The empty state polls every 10 s (components.EMPTY_STATE_POLL_S); allow a few polls.
DATA_APPEARS_TIMEOUT_MS = 45_000

pytestmark = pytest.mark.timeout(180)


def wait_until_healthy(server: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit not healthy after {SERVER_START_TIMEOUT_S} s:\n{log.read_text()}")


@contextmanager
def streamlit_server(data_dir: Path, log: Path) -> Iterator[str]:
    """Run the app on a free 127.0.0.1 port and yield its URL; stop it on the way out."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MARQUEE_DATA_DIR": str(data_dir)}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_SCRIPT.relative_to(REPO_ROOT)),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            wait_until_healthy(server, base_url, log)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


@contextmanager
def browser_page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="en-US")
            page.set_default_timeout(RENDER_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def creator_row_cells(page: Page, creator_id: str) -> list[str]:
    """Cells of the table row of `creator_id`, read from the grid's accessibility table.

    The data grid paints on a canvas; its cells are mirrored in a hidden <table> with raw
    (unformatted) values, which is what a screen reader, and this test, reads.
    """
    table = page.get_by_test_id("stDataFrame")
    creator_cell = page.locator(
        "[role=gridcell]", has_text=re.compile(f"^{re.escape(creator_id)}$")
    )
    row = table.locator("[role=row]", has=creator_cell)
    row.first.wait_for(state="attached")
    return [text.strip() for text in row.first.locator("[role=gridcell]").all_text_contents()]


def metric_values(page: Page) -> dict[str, str]:
    metrics = page.get_by_test_id("stMetric")
    metrics.first.wait_for()
    values = {}
    for index in range(metrics.count()):
        metric = metrics.nth(index)
        label = metric.get_by_test_id("stMetricLabel").inner_text().strip()
        values[label] = metric.get_by_test_id("stMetricValue").inner_text().strip()
    return values


def test_browser_shows_creator_views(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_serving_db(data_dir, KNOWN_ROWS)

    with streamlit_server(data_dir, tmp_path / "streamlit.log") as url, browser_page() as page:
        page.goto(url)
        page.get_by_role("heading", name="Creators", exact=True).wait_for()

        assert creator_row_cells(page, "cr_bravo") == ["cr_bravo", "1200", "4", "1190", "10"]
        assert metric_values(page)["Views"] == "1,355"
        assert page.get_by_text("Newest data minute: 2025-03-10 14:37 UTC").is_visible()
        # Let the chart finish drawing before the picture.
        page.get_by_test_id("stVegaLiteChart").wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "creators.png"), full_page=True)

    assert (tmp_path / "creators.png").stat().st_size > 0


def test_browser_empty_state_then_data_appears_without_reload(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    with streamlit_server(data_dir, tmp_path / "streamlit.log") as url, browser_page() as page:
        page.goto(url)
        page.get_by_text("appears after the first pipeline run and dbt build").wait_for()
        page.screenshot(path=str(tmp_path / "empty.png"), full_page=True)

        write_serving_db(data_dir, KNOWN_ROWS)

        page.get_by_test_id("stMetric").first.wait_for(timeout=DATA_APPEARS_TIMEOUT_MS)
        assert creator_row_cells(page, "cr_alpha") == ["cr_alpha", "150", "2.5", "139", "4"]
        assert not page.get_by_text("appears after the first pipeline run").is_visible()
