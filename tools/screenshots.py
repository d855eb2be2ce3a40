"""`make screenshots`: one full-page PNG of every dashboard page, from the running app in a
real browser (Debian's chromium, headless, 1440 px wide).

    uv run python -m tools.screenshots [--out DIR] [--data-dir DIR]

The pictures go to `--out`, else MARQUEE_SCREENSHOTS_DIR, else ./screenshots (git-ignored).
The data is `--data-dir`, else MARQUEE_DATA_DIR when its warehouse is published
(serving.duckdb), else the golden scenario (shared/golden/scenario_basic.json, rebased to a
few hours ago) run through the real API, pipeline and dbt into a temporary directory, as the
tests build it.

The helpers here (a Streamlit server on a free local port, a chromium page, opening a page
and waiting for its script to finish, the errors it shows) are also what the real-browser test
(tests/test_dashboard_browser.py) uses, so the pictures and the test see the same thing.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from playwright.sync_api import ConsoleMessage, Page, sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_SCRIPT = REPO_ROOT / "dashboards" / "streamlit_app.py"
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
WIDTH_PX = 1440
HEIGHT_PX = 1000
SERVER_START_TIMEOUT_S = 60
RENDER_TIMEOUT_MS = 60_000
SETTLE_MS = 750
"""Charts (vega-embed) and data grids draw after the script has finished; wait this long
before reading or photographing the page."""

# What a browser should open on each page: the shared filters in the query string (the
# golden scenario's one creator, platform and country, so a page shows its numbers rather than
# "nothing matches") and the page's own subject where it has one.
GOLDEN_FILTERS: dict[str, str] = {
    "range": "28d",
    "compare": "true",
    "creator": "cr_g_1",
    "platform": "web",
    "country": "ZZ",
}
PAGE_PARAMS: dict[str, dict[str, str]] = {
    "content": {"content": "vod_g_1"},
}

DESIGNED_ERROR_ALERT = re.compile(r"\b(ago|stale|behind|lag|newest|fresh)", re.IGNORECASE)
"""The one red alert a page shows by design is its freshness warning (components.show_freshness
at "very stale": the data is hours old, as the golden scenario's is). Any other st.error text
is treated as a failure the page caught and printed."""


STREAMLIT_BASE_PATH_PROBE = re.compile(
    r"^Failed to load resource: the server responded with a status of 404 .*"
    r"\(http://[^/]+/[\w-]+/_stcore/(health|host-config)\)$"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(server: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"streamlit not healthy after {SERVER_START_TIMEOUT_S} s:\n{log.read_text()}"
    )


@contextmanager
def streamlit_server(data_dir: Path, log: Path) -> Iterator[str]:
    """`streamlit run dashboards/streamlit_app.py` on a free 127.0.0.1 port over data_dir;
    yields its base URL and stops it on the way out. Its output goes to `log`."""
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
            _wait_until_healthy(server, base_url, log)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


@contextmanager
def chromium_pages() -> Iterator[PageOpener]:
    """Headless chromium; the yielded opener makes one fresh browser page per dashboard page."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield PageOpener(browser)
        finally:
            browser.close()


@dataclass
class BrowserErrors:
    """What the browser reported while a page was open: console errors and uncaught
    JavaScript exceptions."""

    console: list[str] = field(default_factory=list)
    page: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        """Every error but Streamlit's own base-path probe: opened at /<page>, its frontend
        first asks /<page>/_stcore/health and /<page>/_stcore/host-config in case the server
        is mounted there, gets a 404 logged as a console error, then uses the root."""
        return [
            *(text for text in self.console if not STREAMLIT_BASE_PATH_PROBE.search(text)),
            *self.page,
        ]


@dataclass
class OpenedPage:
    page: Page
    errors: BrowserErrors


class PageOpener:
    def __init__(self, browser: object) -> None:
        self._browser = browser

    @contextmanager
    def open(self, url: str) -> Iterator[OpenedPage]:
        """A new browser page (its own context: no state from other pages) at `url`, once
        the app's script has finished running; closed on the way out."""
        context = self._browser.new_context(  # type: ignore[attr-defined]
            viewport={"width": WIDTH_PX, "height": HEIGHT_PX}, locale="en-US"
        )
        try:
            page = context.new_page()
            page.set_default_timeout(RENDER_TIMEOUT_MS)
            errors = BrowserErrors()

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.console.append(f"{message.text} ({message.location.get('url')})")

            page.on("console", on_console)
            page.on("pageerror", lambda error: errors.page.append(str(error)))
            page.goto(url)
            wait_for_run(page)
            yield OpenedPage(page, errors)
        finally:
            context.close()


def page_url(base_url: str, url_path: str, params: Mapping[str, str]) -> str:
    query = urlencode(dict(params))
    return f"{base_url}/{url_path}" + (f"?{query}" if query else "")


def golden_params(url_path: str) -> dict[str, str]:
    return {**GOLDEN_FILTERS, **PAGE_PARAMS.get(url_path, {})}


def wait_for_run(page: Page) -> None:
    """Until the app is connected, its script has run and finished, and the page has drawn.

    Streamlit marks its root element with the script's state (`data-test-script-state`:
    initial, running, notRunning); the page's title (st.title) is the first thing every page
    draws. A widget bound to the query string can ask for one more run, hence the second wait.
    """
    app = page.locator("[data-testid=stApp]")
    page.locator("[data-testid=stApp][data-test-connection-state=CONNECTED]").wait_for()
    page.locator("[data-testid=stMain] h1").first.wait_for()
    finished = page.locator("[data-testid=stApp][data-test-script-state=notRunning]")
    finished.wait_for()
    page.wait_for_timeout(SETTLE_MS)
    if app.get_attribute("data-test-script-state") != "notRunning":
        finished.wait_for()
        page.wait_for_timeout(SETTLE_MS)


def fit_to_content(page: Page) -> None:
    """Make the viewport as tall as the page's content, so a full-page screenshot has all of it.

    Streamlit scrolls inside its main area and sidebar, not the document, so Playwright's
    full_page alone stops at the window's height.
    """
    height = page.evaluate(
        """() => Math.max(document.body.scrollHeight, ...Array.from(
            document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarContent]'),
            (element) => element.scrollHeight))"""
    )
    if height > HEIGHT_PX:
        page.set_viewport_size({"width": WIDTH_PX, "height": int(height)})
        page.wait_for_timeout(SETTLE_MS)


def page_title(page: Page) -> str:
    return page.locator("[data-testid=stMain] h1").first.inner_text().strip()


def text_before_title(page: Page) -> list[str]:
    """What the page shows above its title: nothing, unless Streamlit's "magic" wrote out a
    bare string of the page's module (an attribute docstring under a constant is one)."""
    elements = page.locator("[data-testid=stMain] [data-testid=stElementContainer]")
    before: list[str] = []
    for index in range(elements.count()):
        element = elements.nth(index)
        if element.locator("h1").count():
            return before
        if text := element.inner_text().strip():
            before.append(text)
    return before


def exceptions_shown(page: Page) -> list[str]:
    """Every exception Streamlit shows on the page (an uncaught one, or st.exception)."""
    return [text.strip() for text in page.get_by_test_id("stException").all_inner_texts()]


def error_alerts_shown(page: Page) -> list[str]:
    """The red st.error alerts other than the designed freshness warning."""
    alerts = page.get_by_test_id("stAlertContentError").all_inner_texts()
    return [text.strip() for text in alerts if not DESIGNED_ERROR_ALERT.search(text)]


def screenshot_every_page(data_dir: Path, out_dir: Path) -> list[Path]:
    """One full-page PNG per dashboard page, named after its URL path."""
    from dashboards.navigation import ALL_PAGES

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with (
        tempfile.TemporaryDirectory() as scratch,
        streamlit_server(data_dir, Path(scratch) / "streamlit.log") as base_url,
        chromium_pages() as browser,
    ):
        for spec in ALL_PAGES:
            url = page_url(base_url, spec.url_path, golden_params(spec.url_path))
            with browser.open(url) as opened:
                path = out_dir / f"{spec.url_path}.png"
                fit_to_content(opened.page)
                opened.page.screenshot(path=str(path), full_page=True)
                problems = [
                    *(f"above the title: {text}" for text in text_before_title(opened.page)),
                    *exceptions_shown(opened.page),
                    *error_alerts_shown(opened.page),
                    *opened.errors.unexpected(),
                ]
            print(f"{path}  {url.removeprefix(base_url)}")
            for problem in problems:
                print(f"  problem: {problem.splitlines()[0][:200]}")
            written.append(path)
    return written


def _published_data_dir(candidate: str | None) -> Path | None:
    if not candidate:
        return None
    from marquee.layout import DataLayout

    path = Path(candidate)
    return path if DataLayout(path).serving_db.exists() else None


def _golden_data_dir(base: Path) -> Path:
    """The golden scenario through the real API, pipeline and dbt, published for the app."""
    import shutil

    from marquee.layout import DataLayout
    from tests.support.golden import build_golden_warehouse, load_scenario

    data_dir = base / "data"
    dbt_db = build_golden_warehouse(data_dir, load_scenario())
    shutil.copyfile(dbt_db, DataLayout(data_dir).serving_db)
    return data_dir


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(os.environ.get("MARQUEE_SCREENSHOTS_DIR") or REPO_ROOT / "screenshots"),
    )
    parser.add_argument(
        "--data-dir", default=None, help="a data directory with a published serving.duckdb"
    )
    args = parser.parse_args()
    if args.data_dir and _published_data_dir(args.data_dir) is None:
        parser.error(f"{args.data_dir} has no published warehouse (warehouse/serving.duckdb)")
    data_dir = _published_data_dir(args.data_dir or os.environ.get("MARQUEE_DATA_DIR"))
    with tempfile.TemporaryDirectory(prefix="marquee-screenshots-") as scratch:
        if data_dir is None:
            print("no published warehouse given: building the golden scenario (about a minute)")
            data_dir = _golden_data_dir(Path(scratch))
        print(f"data: {data_dir}")
        screenshot_every_page(data_dir, args.out)


if __name__ == "__main__":
    main()
