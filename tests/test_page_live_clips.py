"""Clips from live sessions on the Creator and Content pages, through AppTest over the clip
scenario's real build (`tests.support.clip_scenario`: a live nine days ago, two clips cut from
it, three of their views within 7 days of the live and one beyond, a live without clips).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from marquee.layout import DataLayout
from tests.support.clip_scenario import CREATOR, EXPECTED, HORIZON_ENV, LIVE, clip_scenario
from tests.support.dashboards import metrics, open_page, texts, use_data_dir
from tests.support.golden import build_golden_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PERIOD = {"range": "28d"}
"""The live is nine days old: outside the default 7 days."""


@pytest.fixture(scope="module")
def clips_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("page-clips") / "data"
    dbt_db = build_golden_warehouse(data_dir, clip_scenario(), HORIZON_ENV)
    shutil.copyfile(dbt_db, DataLayout(data_dir).serving_db)
    return data_dir


@pytest.fixture
def clips_dir(monkeypatch: pytest.MonkeyPatch, clips_data_dir: Path) -> Iterator[Path]:
    yield from use_data_dir(monkeypatch, clips_data_dir)


def clips_table(at: AppTest) -> pd.DataFrame:
    for frame in at.dataframe:
        if "Clips" in frame.value.columns:
            return frame.value
    raise AssertionError("no clips table")


def links(at: AppTest) -> list[tuple[str, str]]:
    return [(p.proto.label, p.proto.query_string) for p in at.get("page_link")]


def test_creator_page_lists_the_live_sessions_clips_were_cut_from(clips_dir: Path) -> None:
    at = open_page("creator", {"creator": CREATOR, **PERIOD})
    assert "Clips from live sessions" in [s.value for s in at.subheader]
    table = clips_table(at)
    assert list(table["Live stream"]) == ["Launch stream"], "the live without clips is left out"
    expected = EXPECTED[LIVE]
    row = table.iloc[0]
    assert (
        row["Clips"],
        row["Clips viewed"],
        row["Clip views (7 days)"],
        row["Clip viewers (7 days)"],
    ) == (
        expected["clips"],
        expected["clips_viewed"],
        expected["clip_views"],
        expected["clip_unique_viewers"],
    )
    assert row["Clip watch hours (7 days)"] == pytest.approx(expected["clip_watched_ms"] / 3.6e6)


def test_creator_page_hides_clips_under_another_type_filter(clips_dir: Path) -> None:
    at = open_page("creator", {"creator": CREATOR, "type": "vod", **PERIOD})
    assert not [f for f in at.dataframe if "Clips" in f.value.columns]


def test_live_content_page_shows_its_clips_and_links_them(clips_dir: Path) -> None:
    at = open_page("content", {"content": LIVE, **PERIOD})
    shown = metrics(at)
    expected = EXPECTED[LIVE]
    assert (shown["Clips"], shown["Clip views"], shown["Clip viewers"]) == (
        str(expected["clips"]),
        str(expected["clip_views"]),
        str(expected["clip_unique_viewers"]),
    )
    assert ("Clip: Best moment", "content=clip_a") in links(at)
    assert ("Clip: Second moment", "content=clip_b") in links(at)
    assert "(7 days)" in texts(at, "caption")


def test_a_clips_page_links_to_its_live_and_a_live_without_clips_says_so(clips_dir: Path) -> None:
    at = open_page("content", {"content": "clip_a", **PERIOD})
    assert ("Cut from the live stream: Launch stream", f"content={LIVE}") in links(at)
    at = open_page("content", {"content": "live_quiet", **PERIOD})
    assert "No clip was cut from this live stream" in texts(at, "info")
