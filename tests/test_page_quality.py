"""The Playback quality page (`/quality`) on the golden scenario's real dbt build, on an empty
warehouse, and with filters from the URL.

Expected numbers are worked out by hand from the scenario (`shared/golden/scenario_basic.json`):
its VOD has four views (A started at 700 ms with 1,000 ms stalled of 31,700 ms watched, B an
exit before start, C a start failure, D started at 500 ms with 15,500 ms watched), its live
stream two views started at 900 ms with 60,900 ms watched each; all six are on the web.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.support.dashboards import metrics, open_page, warehouse_of_known_rows
from tests.support.known_rows import write_serving_db

pytestmark = pytest.mark.integration


def _frame_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page that has all `columns`."""
    for table in at.dataframe:
        if set(columns) <= set(table.value.columns):
            return table.value
    raise AssertionError(f"no table with columns {columns}")


def test_headline_over_every_view(golden_dir: Path) -> None:
    at = open_page("quality")

    shown = metrics(at)
    assert shown["Views"] == "6"
    # One failed view (C, also the only VSF) and one exit before start (B) among six.
    assert shown["Failure %"] == "16.67 %"
    assert shown["VSF %"] == "16.67 %"
    assert shown["EBVS %"] == "16.67 %"
    # Started views' startups 500, 700, 900, 900: p50 between 700 and 900, p95 at 900.
    assert shown["Startup p50"] == "800 ms"
    assert shown["Startup p95"] == "900 ms"
    # 1,000 ms stalled of 31,700 + 15,500 + 60,900 + 60,900 ms watched.
    assert shown["Rebuffer %"] == "0.59 %"


def test_vod_numbers_match_the_scenario(
    golden: tuple[dict[str, Any], Path], golden_dir: Path
) -> None:
    expected = golden[0]["expected"]["vod_summary"]
    at = open_page("quality", {"type": "vod"})

    shown = metrics(at)
    assert shown["Views"] == str(expected["views"])
    assert shown["Failure %"] == f"{expected['playback_failure_pct']:.2f} %" == "25.00 %"
    assert shown["VSF %"] == f"{expected['vsf_pct']:.2f} %" == "25.00 %"
    assert shown["EBVS %"] == f"{expected['ebvs_pct']:.2f} %" == "25.00 %"
    assert shown["Rebuffer %"] == f"{expected['rebuffer_pct']:.2f} %" == "2.12 %"
    # Started views A (700 ms) and D (500 ms): p50 600, p95 500 + 0.95 * 200.
    assert shown["Startup p50"] == "600 ms"
    assert shown["Startup p95"] == "690 ms"

    by_type = _frame_with(at, "dimension_value", "rebuffer_pct")
    (vod,) = by_type.to_dict("records")
    assert vod["dimension_value"] == "vod"
    assert vod["views"] == expected["views"]
    assert vod["rebuffer_pct"] == pytest.approx(expected["rebuffer_pct"], abs=1e-4)


def test_breakdown_by_platform_counts_the_views_of_the_events(
    golden: tuple[dict[str, Any], Path], golden_dir: Path
) -> None:
    events = golden[0]["events_in_delivery_order"]
    sessions = {(e["platform"], e["session_id"]) for e in events if e["type"] == "play_requested"}
    expected = Counter(platform for platform, _ in sessions)
    assert expected == {"web": 6}

    # The URL holds the breakdown's label, as Streamlit binds an option with a format_func.
    at = open_page("quality", {"by": "Platform"})

    assert at.radio(key="by").value == "platform"
    by_platform = _frame_with(at, "dimension_value", "playback_failure_pct")
    assert dict(zip(by_platform["dimension_value"], by_platform["views"], strict=True)) == expected


def test_drill_down_lists_the_views_behind_a_number(golden_dir: Path) -> None:
    at = open_page("quality", {"by": "Platform"})
    assert at.selectbox(key="quality_drill").value is None

    at.selectbox(key="quality_drill").set_value("value:web")
    at.radio(key="quality_drill_kind").set_value("failed")
    at.run()

    assert not at.exception
    behind = _frame_with(at, "Session", "Failed", "VSF", "End reason")
    assert list(behind["Session"]) == ["s_g_C"]
    assert behind["Failed"].tolist() == [True]
    assert behind["VSF"].tolist() == [True]
    assert behind["Content"].tolist() == ["vod_g_1"] or behind["Content"].notna().all()

    at.radio(key="quality_drill_kind").set_value("all").run()
    behind = _frame_with(at, "Session", "Failed")
    assert sorted(behind["Session"]) == ["s_g_A", "s_g_B", "s_g_C", "s_g_D", "s_g_L0", "s_g_L1"]
    assert any("6 matching views" in caption.value for caption in at.caption)


def test_worst_offenders_state_their_minimum(golden_dir: Path) -> None:
    at = open_page("quality")

    assert any("at least 20 views" in caption.value for caption in at.caption)
    # No content of the scenario has 20 views: the tables say so rather than rank noise.
    assert any("No content has 20 views or more" in info.value for info in at.info)


def test_a_filter_that_excludes_every_view_says_so(golden_dir: Path) -> None:
    # The scenario's story is seen through story events, never played: no view is a story.
    at = open_page("quality", {"type": "story"})

    assert any("match the filters" in info.value for info in at.info)
    assert not at.metric


def test_empty_state_without_a_warehouse(empty_dir: Path) -> None:
    at = open_page("quality")

    assert [title.value for title in at.title] == ["Playback quality"]
    assert any("No data yet" in info.value for info in at.info)
    assert not at.metric


def test_empty_state_with_an_empty_warehouse(empty_dir: Path) -> None:
    write_serving_db(empty_dir, [])

    at = open_page("quality")

    assert any("No data yet" in info.value for info in at.info)
    assert not at.metric


def test_a_warehouse_without_the_quality_marts_names_them(empty_dir: Path) -> None:
    warehouse_of_known_rows(empty_dir)

    at = open_page("quality")

    (warning,) = at.warning
    assert "main.playback_sessions" in warning.value and "main.dimension_daily_qoe" in warning.value
    assert not at.metric
