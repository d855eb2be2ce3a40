"""The Creator page (`/creator?creator=<id>`) through AppTest: the golden creator's headline,
top content with links to the Content page, live session, stories funnel, ads and QoE, each
derived by hand from the scenario's events (`/work/shared/golden/scenario_basic.json`); the
pick list without a creator (or with an unknown one); a type filter excluding every view; and
the empty warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.dashboards import metrics, open_page, table, texts, use_data_dir
from tests.support.impression_scenario import impression_data_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def links(at: AppTest) -> list[tuple[str, str, str]]:
    """(label, page, query string) of every st.page_link on the page."""
    return [(p.proto.label, p.proto.page, p.proto.query_string) for p in at.get("page_link")]


def test_golden_creator(golden_dir: Path, golden: tuple[dict[str, Any], Path]) -> None:
    expected = golden[0]["expected"]

    at = open_page("creator", {"creator": "cr_g_1"})

    assert [t.value for t in at.title] == ["Creator"]
    assert "Creator g" in [h.value for h in at.header]
    assert metrics(at) == {
        # 4 VOD sessions + 2 live sessions, of v_g_1..v_g_3 and v_g_4, v_g_5.
        "Views": "6",
        "Unique viewers": "5",
        "Watch hours": "0.05",  # 169,000 ms watched
        "Net followers": "+0",
        "Engagement rate": "16.67 %",  # 1 valid reaction / 6 views
        "Playback failure": "16.67 %",  # s_g_C
        "Video start failure": "16.67 %",  # s_g_C failed before its start
        "Startup p50": "800 ms",  # 500, 700, 900, 900
        "Startup p95": "900 ms",  # position 0.95 * 3 = 2.85, between 900 and 900
        "Rebuffer": "0.59 %",  # 1,000 stalled / 169,000 watched
    }

    # Top content, most views first, each linking to its Content page by id.
    content_links = [link for link in links(at) if link[1] == "content"]
    assert [(label, query) for label, _, query in content_links] == [
        ("vod_g_1 (4 views)", "content=vod_g_1"),
        ("live_g_1 (2 views)", "content=live_g_1"),
    ]
    top = table(at, "Content")
    assert list(top["Views"]) == [4, 2]
    assert top["Playback failure %"].iloc[0] == pytest.approx(
        expected["vod_summary"]["playback_failure_pct"]
    )

    # live_g_1: minutes 16:14 and 16:15; both sessions end in 16:15 with 60,000 ms played
    # each, so that minute averages 2 concurrent viewers and the stream 120,000 / 60,000 / 2.
    (live,) = table(at, "Live stream").to_dict("records")
    assert (live["Minutes"], live["Views"], live["Chat messages"]) == (2, 2, 0)
    assert live["Avg concurrent viewers"] == pytest.approx(1.0)
    assert live["Peak concurrent viewers"] == pytest.approx(2.0)

    # story_g_1: viewed by v_g_4, v_g_5, v_g_6; completed by v_g_4; one valid reaction;
    # v_g_4 and v_g_5 then watched the announced live.
    story = expected["stories"]["story_g_1"]
    funnel = table(at, "Story").set_index("Story")
    for row in ("story_g_1", "All stories"):
        assert funnel.loc[row, "Reach"] == story["reach"] == 3
        assert funnel.loc[row, "Completed"] == 1
        assert funnel.loc[row, "Valid reactions"] == story["valid_reactions"] == 1
        assert funnel.loc[row, "Viewers with a valid reaction"] == 1
        assert funnel.loc[row, "Reaction %"] == pytest.approx(story["reaction_rate_pct"], abs=1e-3)
        assert funnel.loc[row, "Watched the live"] == 2
        assert funnel.loc[row, "Live conversion %"] == pytest.approx(
            story["story_to_live_conversion_pct"], abs=1e-3
        )

    ads = table(at, "Ad format").set_index("Ad format")
    assert ads.loc["All formats", "Impressions"] == expected["ads"]["impressions"]
    assert ads.loc["All formats", "Completion %"] == expected["ads"]["completion_rate_pct"]
    assert ads.loc["All formats", "Skip %"] == expected["ads"]["skip_rate_pct"]
    assert ads.loc["All formats", "CTR %"] == expected["ads"]["ctr_pct"]


def test_without_a_creator_the_page_offers_a_pick(golden_dir: Path) -> None:
    at = open_page("creator")

    assert "Choose a creator" in texts(at, "info")
    assert not at.metric
    assert ("Creator g: 6 views", "creator=cr_g_1") in [
        (label, query) for label, _, query in links(at)
    ]


def test_an_unknown_creator_is_dropped_and_the_pick_shown(golden_dir: Path) -> None:
    at = open_page("creator", {"creator": "cr_nobody"})

    assert "Choose a creator" in texts(at, "info")
    assert not at.metric


def test_a_type_filter_excluding_every_view_says_so(golden_dir: Path) -> None:
    at = open_page("creator", {"creator": "cr_g_1", "type": "story"})

    assert "Creator g has no view" in texts(at, "info")
    assert not at.metric


def test_a_platform_filter_moves_views_to_the_views_mart(golden_dir: Path) -> None:
    at = open_page("creator", {"creator": "cr_g_1", "type": "live", "platform": "web"})

    shown = metrics(at)
    assert (shown["Views"], shown["Unique viewers"], shown["Startup p50"]) == ("2", "2", "900 ms")
    assert "follow the content type, platform and country filters" in texts(at, "caption")
    assert [query for _, page, query in links(at) if page == "content"] == ["content=live_g_1"]


def test_empty_state_without_a_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("creator", {"creator": "cr_g_1"})

        assert "No data yet" in texts(at, "info")
        assert not at.metric
        assert not at.dataframe


@pytest.fixture
def impressions_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The impression scenario's real build (`tests.support.impression_scenario`)."""
    data_dir = impression_data_dir(lambda: tmp_path_factory.mktemp("impressions"))
    yield from use_data_dir(monkeypatch, data_dir)


def test_creator_impressions_and_ctr_per_surface(impressions_dir: Path) -> None:
    at = open_page("creator", {"creator": "cr_a"})
    assert "Impressions and click-through" in [s.value for s in at.subheader]
    assert metrics(at)["CTR on feed"] == "25.00 %"
    surfaces = table(at, "Surface").set_index("Surface")
    assert surfaces.loc["feed", "Impressions"] == 4
    assert surfaces.loc["search", "CTR %"] == 50.0
    assert surfaces.loc["profile", "Views from the surface"] == 3
    assert pd.isna(surfaces.loc["profile", "CTR %"]), "no profile impressions: no rate"
    assert "tray" not in surfaces.index, "another creator's surface"
    assert any(
        "Click-through rate per day" in str(chart.proto.spec) for chart in at.get("vega_lite_chart")
    )
