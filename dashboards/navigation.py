"""The dashboard pages: their files, titles and URL paths, in navigation order.

Pages link to each other through `page_path(url_path)` with `st.page_link(...,
query_params=...)`, so a link carries the id it opens (`/content?content=vod_1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    url_path: str

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file


PAGES: dict[str, list[PageSpec]] = {
    "Audience": [
        PageSpec("creators.py", "Creators", "creators"),
        PageSpec("creator.py", "Creator", "creator"),
        PageSpec("content.py", "Content", "content"),
        PageSpec("live_now.py", "Live now", "live"),
    ],
    "Quality and revenue": [
        PageSpec("playback_quality.py", "Playback quality", "quality"),
        PageSpec("stories.py", "Stories", "stories"),
        PageSpec("ads.py", "Ads", "ads"),
    ],
    "Operations": [
        PageSpec("data_health.py", "Data health", "health"),
    ],
}

HOME = "creators"
"""The page `/` opens (by switching to its own URL)."""

ALL_PAGES: list[PageSpec] = [spec for specs in PAGES.values() for spec in specs]


def page_path(url_path: str) -> str:
    """The page file for `st.page_link`/`st.switch_page`, relative to streamlit_app.py."""
    for spec in ALL_PAGES:
        if spec.url_path == url_path:
            return f"app_pages/{spec.file}"
    raise KeyError(f"no dashboard page with url_path {url_path!r}")
