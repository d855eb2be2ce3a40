"""The Content page (`/content?content=<id>`): the golden VOD, live stream and story as shown
(views, unique viewers, completion, watch hours, retention, QoE, ads, live session, story
funnel); an id the warehouse does not have, or that the filters exclude, is dropped and the
list of top content shows instead; the empty states."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.filters import CONTENT_TYPE_LABELS
from marquee.layout import DataLayout
from tests.support.dashboards import metrics, open_page, table, texts, use_data_dir
from tests.support.impression_scenario import impression_data_dir
from tests.support.live_latency import (
    EXPECTED_MINUTES,
    EXPECTED_SESSION,
    LIVE_ID,
    latency_warehouse,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

OTHER_CREATOR = ("cr_other", "Other creator")
"""A creator added to a copy of the golden warehouse, with no content."""


def chart_frames(at: AppTest) -> list[pd.DataFrame]:
    """The data of each Altair chart on the page, in order."""
    frames = []
    for chart in at.get("vega_lite_chart"):
        (dataset,) = chart.proto.datasets
        frames.append(pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_pandas())
    return frames


def picked(at: AppTest) -> object:
    (picker,) = [box for box in at.selectbox if box.label == "Content"]
    return picker.value


def links(at: AppTest) -> list[tuple[str, str]]:
    return [(link.proto.label, link.proto.query_string) for link in at.get("page_link")]


def test_golden_vod(golden_dir: Path, golden: tuple[dict[str, Any], Path]) -> None:
    expected = golden[0]["expected"]
    summary = expected["vod_summary"]

    at = open_page("content", {"content": "vod_g_1"})

    assert picked(at) == "vod_g_1"
    assert at.main.header[0].value == "vod_g_1"  # no title in the catalogue: the id
    assert ("Creator: Creator g", "creator=cr_g_1") in links(at)
    shown = metrics(at)
    assert shown["Views"] == str(summary["views"])  # 4
    assert shown["Unique viewers"] == str(summary["unique_viewers"])  # 3
    assert shown["Completion rate"] == f"{summary['completion_rate_pct']:.2f} %"  # 50.00 %
    # Watched time of the two started views, A and D: 31,700 + 15,500 ms = 0.0131 h.
    watched_ms = expected["views"]["s_g_A"]["watched_ms"] + expected["views"]["s_g_D"]["watched_ms"]
    assert shown["Watch hours"] == f"{watched_ms / 3_600_000:,.3f}"

    retention, qoe = chart_frames(at)
    # Started views A (completed, playhead 30 s of 30 s) and D (playhead 15 s): both reach
    # every point up to 50 %, only A beyond.
    curve = retention.set_index("percent_point")["retention_pct"]
    assert list(curve.index) == list(range(0, 101, 5))
    assert curve[0] == curve[50] == 100.0
    assert curve[55] == curve[100] == 50.0
    # The golden views all start in one minute: failure 1 of 4 attempts, rebuffer as summary.
    by_metric = qoe.groupby("metric")["value"].first()
    assert by_metric["Playback failure %"] == pytest.approx(summary["playback_failure_pct"])
    assert by_metric["Rebuffer %"] == pytest.approx(summary["rebuffer_pct"], abs=1e-3)

    ads = table(at, "Ad").set_index("Ad")
    # ad1: impression, every quartile, a click; ad2: impression, 25 and 50 %, then a skip.
    assert list(ads["Impressions"]) == [1, 1]
    assert ads["Break position"].tolist() == ["pre", "pre"]
    assert ads.loc["ad1", "Completion rate %"] == 100.0
    assert ads.loc["ad1", "Click-through rate %"] == 100.0
    assert ads.loc["ad2", "Skip rate %"] == 100.0
    assert ads.loc["ad2", "Reached 75 % (%)"] == 0.0
    assert ads["Impressions"].sum() == expected["ads"]["impressions"]


def test_golden_live_stream(golden_dir: Path) -> None:
    at = open_page("content", {"content": "live_g_1"})

    shown = metrics(at)
    assert (shown["Views"], shown["Unique viewers"]) == ("2", "2")  # sessions L0 and L1
    assert shown["Completion rate"] == "n/a"  # not defined for live
    # Both 60 s of playback end in the stream's second minute (the pipeline books played time
    # on the minute of the event that reports it): 2 viewers there, 0 in the first minute.
    assert shown["Average concurrent viewers"] == "1.00"
    assert shown["Peak concurrent viewers"] == "2.00"
    assert (shown["Chat messages"], shown["Chatters"], shown["Tips"]) == ("0", "0", "0")
    retention = chart_frames(at)[0]
    assert retention["avg_concurrent_viewers"].tolist() == [0.0, 2.0]
    assert "No tips during this stream" in texts(at, "caption")


def test_golden_story(golden_dir: Path, golden: tuple[dict[str, Any], Path]) -> None:
    expected = golden[0]["expected"]["stories"]["story_g_1"]

    at = open_page("content", {"content": "story_g_1"})

    shown = metrics(at)
    assert shown["Reach"] == str(expected["reach"])
    assert shown["Impressions"] == str(expected["impressions"])
    assert shown["Completion rate"] == f"{expected['completion_rate_pct']:.2f} %"
    assert shown["Story-to-live conversion"] == f"{expected['story_to_live_conversion_pct']:.2f} %"
    assert shown["Valid reactions"] == str(expected["valid_reactions"])
    assert shown["Invalid reactions"] == str(expected["invalid_reactions"])
    assert "Views" not in shown  # a story has no playback views
    reasons = table(at, "Reactions").set_index("Reactions")["Count"].to_dict()
    assert reasons["Invalid: after the story expired"] == 1
    assert reasons["Invalid: repeat by the same viewer"] == 1
    funnel = chart_frames(at)[0].set_index("step")["viewers"].to_dict()
    assert funnel == {
        "Reach": 3,
        "Completed viewers": 1,
        "Viewers with a valid reaction": 1,
        "Converted to live": 2,
    }
    assert ("Announced live stream: live_g_1", "content=live_g_1") in links(at)


def test_without_a_content_the_top_content_is_listed(golden_dir: Path) -> None:
    at = open_page("content")

    assert picked(at) is None
    listed = table(at, "Title")
    # By views in the period: vod_g_1 4 views, story_g_1 3 impressions, live_g_1 2 views.
    assert listed["Content id"].tolist() == ["vod_g_1", "story_g_1", "live_g_1"]
    assert listed["Type"].tolist() == ["VOD", "Story", "Live"]
    assert set(listed["Creator"]) == {"Creator g"}
    assert ("vod_g_1 (VOD, Creator g)", "content=vod_g_1") in links(at)


def test_unknown_content_id_is_dropped(golden_dir: Path) -> None:
    at = open_page("content", {"content": "no_such_content"})

    assert picked(at) is None
    assert "Top content in the period" in texts(at, "subheader")
    assert metrics(at) == {}


def test_type_filter_narrows_the_content(golden_dir: Path) -> None:
    at = open_page("content", {"content": "vod_g_1", "type": CONTENT_TYPE_LABELS["live"]})

    assert picked(at) is None  # the VOD is not a live stream: dropped
    assert table(at, "Title")["Content id"].tolist() == ["live_g_1"]


def test_platform_filter_does_not_apply_and_says_so(golden_dir: Path) -> None:
    at = open_page("content", {"content": "vod_g_1", "platform": "web"})

    assert "platform and country filters do not apply" in texts(at, "caption")
    assert metrics(at)["Views"] == "4"


def test_creator_filter_that_excludes_the_content(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, golden: tuple[dict[str, Any], Path]
) -> None:
    creator_id, name = OTHER_CREATOR
    layout = DataLayout(tmp_path).ensure()
    shutil.copyfile(DataLayout(golden[1]).serving_db, layout.serving_db)
    with duckdb.connect(str(layout.serving_db)) as con:
        con.execute(
            "insert into main.creator_daily_performance (creator_id, day, creator_name) "
            "select ?, max(day), ? from main.creator_daily_performance",
            [creator_id, name],
        )
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("content", {"content": "vod_g_1", "creator": name})

        assert picked(at) is None
        assert "No content matches the filters" in texts(at, "info")
        assert metrics(at) == {}


def test_no_warehouse_explains_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("content", {"content": "vod_g_1"})

        assert [t.value for t in at.title] == ["Content"]
        assert "No data yet" in texts(at, "info")
        assert metrics(at) == {}


def test_warehouse_without_rows_for_the_content_pages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, golden: tuple[dict[str, Any], Path]
) -> None:
    """content_daily_performance has rows (the app is ready) but the marts this page lists are
    empty."""
    layout = DataLayout(tmp_path).ensure()
    shutil.copyfile(DataLayout(golden[1]).serving_db, layout.serving_db)
    with duckdb.connect(str(layout.serving_db)) as con:
        for mart in ("content_daily_qoe", "stories", "vod_clip_performance", "live_sessions"):
            con.execute(f"delete from main.{mart}")
    for _ in use_data_dir(monkeypatch, tmp_path):
        at = open_page("content", {"content": "vod_g_1"})

        assert picked(at) is None
        assert "No content matches the filters" in texts(at, "info")


@pytest.fixture
def impressions_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The impression scenario's real build (`tests.support.impression_scenario`)."""
    data_dir = impression_data_dir(lambda: tmp_path_factory.mktemp("impressions"))
    yield from use_data_dir(monkeypatch, data_dir)


def test_content_impressions_and_ctr_per_surface(impressions_dir: Path) -> None:
    at = open_page("content", {"content": "vod_b1"})
    assert "Impressions and click-through" in [s.value for s in at.subheader]
    assert metrics(at)["CTR on tray"] == "100.00 %"
    surfaces = table(at, "Surface")
    assert surfaces.astype(object).where(surfaces.notna(), None).to_dict("records") == [
        {"Surface": "tray", "Impressions": 3, "Views from the surface": 3, "CTR %": 100.0},
        {"Surface": "feed", "Impressions": 0, "Views from the surface": 1, "CTR %": None},
    ]


@pytest.fixture
def latency_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The live latency scenario's real build (`tests.support.live_latency`)."""
    _, data_dir = latency_warehouse(lambda: tmp_path_factory.mktemp("latency"))
    yield from use_data_dir(monkeypatch, data_dir)


def test_live_latency_of_the_session_and_per_minute(latency_dir: Path) -> None:
    at = open_page("content", {"content": LIVE_ID})
    assert "Live latency" in [s.value for s in at.subheader]
    shown = metrics(at)
    heartbeats, p50, p95 = EXPECTED_SESSION  # 10, 3000, 8200: all heartbeats, not minutes
    assert shown["Live latency p50 (s)"] == f"{p50 / 1000:,.2f}"
    assert shown["Live latency p95 (s)"] == f"{p95 / 1000:,.2f}"
    assert shown["Heartbeats with a latency"] == str(heartbeats)
    (latency,) = [f for f in chart_frames(at) if "latency_ms" in f.columns]
    by_percentile = latency.pivot_table(
        index="minute_start_at", columns="percentile", values="latency_ms"
    ).sort_index()
    expected = [(p50_ms, p95_ms) for _, p50_ms, p95_ms in EXPECTED_MINUTES.values()]
    assert list(zip(by_percentile["p50"], by_percentile["p95"], strict=True)) == expected
