"""The Creators page (`/creators`, the app's default page) through AppTest: the golden
creator's leaderboard row and headline numbers, derived by hand from the scenario's events;
filters read from the query string; the CSV's readable headers; and the empty states (no
warehouse, a warehouse without rows, no creator-day rows, no creator-day mart).

The golden scenario (`/work/shared/golden/scenario_basic.json`, one creator cr_g_1 "Creator
g", all on one UTC day, so the 7-day period is that day): VOD sessions s_g_A..s_g_D of
viewers v_g_1 (A and D), v_g_2 (B, exits before start) and v_g_3 (C, fatal error before
start), and live sessions s_g_L0 (v_g_4) and s_g_L1 (v_g_5).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards import components
from marquee.layout import DataLayout
from tests.support.dashboards import (
    metrics,
    open_page,
    table,
    texts,
    use_data_dir,
    warehouse_copy,
)
from tests.support.impression_scenario import impression_data_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

GOLDEN_HEADLINE = {
    "Creators": "1",
    # 4 VOD sessions (s_g_A, B, C, D) + 2 live sessions (s_g_L0, L1).
    "Views": "6",
    # v_g_1, v_g_2, v_g_3 on the VOD, v_g_4, v_g_5 on the live (story viewers do not count).
    "Unique viewers": "5",
    # watched ms: A 31,700 + D 15,500 + L0 60,900 + L1 60,900 = 169,000 ms = 0.047 h.
    "Watch hours": "0.05",
    # played ms 30,000 + 15,000 + 60,000 + 60,000 over 4 started views = 41.25 s.
    "Avg view duration": "41.2 s",
    "Net followers": "+0",
    # 1 valid reaction (v_g_4's first; its second repeats, v_g_6's came after expiry),
    # no chat, no shares, over 6 views.
    "Engagement rate": "16.67 %",
    # s_g_C failed, 1 of 6 views.
    "Playback failure": "16.67 %",
    # stalled 1,000 ms (s_g_A) / watched 169,000 ms of the started views.
    "Rebuffer": "0.59 %",
    # startup of the started views 500, 700, 900, 900: median 800.
    "Startup p50": "800 ms",
}


def leaderboard(at: AppTest) -> pd.DataFrame:
    (table,) = at.dataframe
    return table.value


def test_golden_creator_headline_and_leaderboard(golden_dir: Path) -> None:
    at = open_page("creators")

    assert [t.value for t in at.title] == ["Creators"]
    assert metrics(at) == GOLDEN_HEADLINE
    row = leaderboard(at).iloc[0]
    assert len(leaderboard(at)) == 1
    assert row["creator_name"] == "Creator g"
    assert row["page"] == "creator?creator=cr_g_1"
    assert (row["views"], row["unique_viewers"]) == (6, 5)
    assert row["watch_hours"] == pytest.approx(169_000 / 3_600_000)
    assert row["avg_view_duration_secs"] == pytest.approx(41.25)
    assert row["engagement_rate_pct"] == pytest.approx(100 / 6)
    assert row["playback_failure_pct"] == pytest.approx(100 / 6)
    assert row["rebuffer_pct"] == pytest.approx(100 * 1_000 / 169_000)
    assert row["startup_p50_ms"] == pytest.approx(800)
    assert list(row["daily_views"]) == [6]  # the period is the scenario's one day
    assert row["tips"] == ""  # the scenario has no tip
    assert "Newest data minute" in texts(at, "caption")


def test_csv_export_has_readable_headers(golden_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exported: list[bytes] = []
    original = st.download_button

    def capture(label: str, data: bytes, **kwargs: Any) -> Any:
        exported.append(data)
        return original(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", capture)

    open_page("creators")

    csv = exported[-1]  # open_page runs the app once on its default page (this one) first
    frame = pd.read_csv(io.BytesIO(csv))
    assert list(frame.columns) == [
        "Creator",
        "Creator id",
        "Views",
        "Views change %",
        "Unique viewers",
        "Watch hours",
        "Avg view duration (s)",
        "Net followers",
        "Engagement rate %",
        "Tips per currency",
        "Playback failure %",
        "Rebuffer %",
        "Startup p50 (ms)",
    ]
    assert frame.iloc[0][["Creator", "Creator id", "Views", "Unique viewers"]].tolist() == [
        "Creator g",
        "cr_g_1",
        6,
        5,
    ]


def test_the_table_draws_the_top_creators_and_the_csv_has_all(
    golden: tuple[dict[str, Any], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 150 more creators on the golden day, with 1 to 150 views: 151 creators with a view.
    data_dir = warehouse_copy(
        golden,
        tmp_path,
        "insert into main.creator_daily_performance (creator_id, day, creator_name, views, "
        "started_views, failed_views, watch_time_hours, avg_view_duration_secs, net_followers, "
        "valid_reactions, chat_messages, shares) "
        "select 'cr_extra_' || n, (select max(day) from main.creator_daily_performance), "
        "'Extra ' || n, n, 0, 0, 0, 0, 0, 0, 0, 0 from range(1, 151) as t(n)",
    )
    exported: list[bytes] = []
    original = st.download_button

    def capture(label: str, data: bytes, **kwargs: Any) -> Any:
        exported.append(data)
        return original(label, data, **kwargs)

    monkeypatch.setattr(st, "download_button", capture)
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("creators")

        table = leaderboard(at)
        assert len(table) == 100
        assert table["creator_id"].tolist()[:2] == ["cr_extra_150", "cr_extra_149"]
        assert "The 100 creators with the most views" in texts(at, "caption")
        csv = pd.read_csv(io.BytesIO(exported[-1]))
        assert len(csv) == 151
        assert "Creator g" in csv["Creator"].tolist()


def test_type_filter_from_the_url_counts_only_those_views(golden_dir: Path) -> None:
    at = open_page("creators", {"type": "vod"})

    shown = metrics(at)
    # The 4 VOD sessions of 3 viewers; s_g_C failed: 1 of 4.
    assert (shown["Views"], shown["Unique viewers"]) == ("4", "3")
    assert shown["Playback failure"] == "25.00 %"
    # Engagement has no content type: still 1 valid reaction over all 6 views.
    assert shown["Engagement rate"] == "16.67 %"
    assert "Filtered to type vod" in texts(at, "caption")
    # The link to the Creator page keeps the filter.
    link = leaderboard(at).iloc[0]["page"]
    assert link == "creator?creator=cr_g_1&type=vod"


def test_a_filter_excluding_every_view_says_nothing_matches(golden_dir: Path) -> None:
    # Story viewing is not a playback session: the golden creator has no story view.
    at = open_page("creators", {"type": "story"})

    assert not at.metric
    assert not at.dataframe
    assert "No creator has a view" in texts(at, "info")


def test_an_unknown_creator_in_the_url_is_dropped(golden_dir: Path) -> None:
    at = open_page("creators", {"creator": "cr_nobody"})

    creator_filter = next(box for box in at.sidebar.selectbox if box.label == "Creator")
    assert creator_filter.value is None
    assert metrics(at)["Views"] == "6"


def test_the_creator_filter_from_the_url_by_id(golden_dir: Path) -> None:
    at = open_page("creators", {"creator": "cr_g_1", "range": "28d"})

    boxes = {box.label: box.value for box in at.sidebar.selectbox}
    assert (boxes["Creator"], boxes["Period"]) == ("cr_g_1", "28d")
    assert metrics(at)["Views"] == "6"


def test_empty_state_without_a_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("creators")

        assert "No data yet" in texts(at, "info")
        assert not at.metric
        assert not at.dataframe
        assert not DataLayout(tmp_path).serving_db.exists(), "the page must not create it"


def test_empty_state_with_a_warehouse_without_rows(
    golden: tuple[dict[str, Any], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = warehouse_copy(
        golden,
        tmp_path,
        "delete from main.content_daily_performance",
        "delete from main.creator_daily_performance",
    )
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("creators")

        assert "No data yet" in texts(at, "info")
        assert not at.metric


def test_no_creator_days_says_no_creator_has_a_view(
    golden: tuple[dict[str, Any], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = warehouse_copy(golden, tmp_path, "delete from main.creator_daily_performance")
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("creators")

        assert "No creator has a view" in texts(at, "info")
        assert not at.metric


def test_warning_when_the_creator_day_mart_is_missing(
    golden: tuple[dict[str, Any], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = warehouse_copy(golden, tmp_path, "drop table main.creator_daily_performance")
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("creators")

        assert "main.creator_daily_performance" in texts(at, "warning")
        assert not at.metric


def test_a_newly_published_warehouse_is_read_on_the_next_run(
    golden: tuple[dict[str, Any], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = warehouse_copy(golden, tmp_path)
    for _ in use_data_dir(monkeypatch, data_dir):
        at = open_page("creators")
        assert metrics(at)["Views"] == "6"

        # Publish as the refresh loop does: a new file renamed into place.
        layout = DataLayout(data_dir)
        fresh = layout.serving_db.with_suffix(".new")
        shutil.copyfile(layout.serving_db, fresh)
        with duckdb.connect(str(fresh)) as con:
            con.execute("update main.creator_daily_performance set views = views + 4")
        fresh.replace(layout.serving_db)
        at.run()

        assert metrics(at)["Views"] == "10"


def test_freshness_caption_states_the_age() -> None:
    newest = datetime(2025, 3, 10, 14, 37, tzinfo=UTC)
    now = datetime(2025, 3, 10, 16, 40, 5, tzinfo=UTC)

    caption = components.freshness_caption(newest, now=now)

    assert caption.startswith("Newest data minute: 2025-03-10 14:37 UTC (2 h 3 min ago)")
    assert components.format_age(42) == "42 s"
    assert components.format_age(3 * 86_400 + 4 * 3_600) == "3 d 4 h"


@pytest.fixture
def impressions_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The impression scenario's real build (`tests.support.impression_scenario`)."""
    data_dir = impression_data_dir(lambda: tmp_path_factory.mktemp("impressions"))
    yield from use_data_dir(monkeypatch, data_dir)


def test_impressions_and_ctr_per_surface_and_per_creator(impressions_dir: Path) -> None:
    """The default period ends on the newest day with views (D): D+1's impressions are
    out of it; D-1's feed view is in it but counts in no rate (its day had no impressions)."""
    at = open_page("creators")
    assert "Impressions and click-through" in [s.value for s in at.subheader]
    shown = metrics(at)
    assert shown["Impressions"] == "9"
    assert shown["CTR on feed"] == "25.00 %", "1 feed view on a day with feed impressions / 4"
    surfaces = table(at, "Surface")
    assert surfaces.astype(object).where(surfaces.notna(), None).to_dict("records") == [
        {"Surface": "feed", "Impressions": 4, "Views from the surface": 3, "CTR %": 25.0},
        {"Surface": "tray", "Impressions": 3, "Views from the surface": 3, "CTR %": 100.0},
        {"Surface": "search", "Impressions": 2, "Views from the surface": 1, "CTR %": 50.0},
        {"Surface": "profile", "Impressions": 0, "Views from the surface": 3, "CTR %": None},
    ]
    top = table(at, "Creator")
    assert list(top["Creator"]) == ["Creator A", "Creator B"]
    assert list(top["Impressions"]) == [6, 3]
    assert top["Search CTR %"].iloc[0] == 50.0 and top["Tray CTR %"].iloc[1] == 100.0
    assert pd.isna(top["Profile CTR %"].iloc[0]), "profile views without impressions: no rate"


def test_impressions_section_says_when_none_were_reported(golden_dir: Path) -> None:
    at = open_page("creators")
    assert "No impression was reported" in texts(at, "info")
