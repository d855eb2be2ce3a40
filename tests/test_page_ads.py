"""The Ads page (`/ads`) on the golden scenario's real dbt build, on an empty warehouse, and
with filters from the URL.

The scenario (`shared/golden/scenario_basic.json`) plays two linear ads in the VOD's pre-roll:
ad1 reaches every quartile and is clicked, ad2 reaches 50 % and is skipped. Its "expected"
section holds the totals: 2 impressions, reach 100/100/50/50 %, completion, skip rate and
click-through rate 50 % each.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from marquee.layout import DataLayout
from tests.support.ad_format_scenario import EXPECTED_RATES, ad_format_scenario
from tests.support.dashboards import metrics, open_page, use_data_dir, warehouse_of_known_rows
from tests.support.golden import build_golden_warehouse
from tests.support.known_rows import write_serving_db

pytestmark = pytest.mark.integration


def _tables(at: AppTest) -> list[pd.DataFrame]:
    return [table.value for table in at.dataframe]


def test_headline_matches_the_scenario(
    golden: tuple[dict[str, Any], Path], golden_dir: Path
) -> None:
    expected = golden[0]["expected"]["ads"]
    at = open_page("ads")

    shown = metrics(at)
    assert shown["Impressions"] == str(expected["impressions"]) == "2"
    assert shown["Completion %"] == f"{expected['completion_rate_pct']:.2f} %" == "50.00 %"
    assert shown["Skip rate %"] == f"{expected['skip_rate_pct']:.2f} %" == "50.00 %"
    assert shown["CTR %"] == f"{expected['ctr_pct']:.2f} %" == "50.00 %"
    assert shown["Plays without impression"] == "0"


def test_funnel_and_tables_per_ad_position_creator_and_format(
    golden: tuple[dict[str, Any], Path], golden_dir: Path
) -> None:
    expected = golden[0]["expected"]["ads"]
    at = open_page("ads")

    (chart,) = at.get("vega_lite_chart")
    (dataset,) = chart.proto.datasets
    funnel = pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_pandas()
    # Plays: 2 impressions, both past 25 % and 50 %, ad1 alone past 75 % and 100 %.
    assert dict(zip(funnel["step"], funnel["plays"], strict=True)) == {
        "Impressions": 2,
        "25 %": 2,
        "50 %": 2,
        "75 %": 1,
        "100 %": 1,
    }
    assert funnel["reach_pct"].tolist() == [
        100.0,
        expected["q25_pct"],
        expected["q50_pct"],
        expected["q75_pct"],
        expected["q100_pct"],
    ]

    per_ad, per_position, per_creator, per_format = _tables(at)
    assert per_ad.set_index("name")["ad_completion_rate_pct"].to_dict() == {
        "ad1": 100.0,
        "ad2": 0.0,
    }
    assert per_ad.set_index("name")["skip_rate_pct"].to_dict() == {"ad1": 0.0, "ad2": 100.0}
    for table in (per_position, per_creator, per_format):
        (row,) = table.to_dict("records")
        assert row["ad_impressions"] == expected["impressions"]
        assert row["q25_reach_pct"] == expected["q25_pct"]
        assert row["q50_reach_pct"] == expected["q50_pct"]
        assert row["q75_reach_pct"] == expected["q75_pct"]
        assert row["q100_reach_pct"] == expected["q100_pct"]
        assert row["ctr_pct"] == expected["ctr_pct"]
    assert per_position["name"].tolist() == ["pre"]
    assert per_creator["name"].tolist() == ["Creator g"], "creators are shown by name"
    assert per_format["name"].tolist() == ["linear"]


@pytest.fixture(scope="module")
def formats_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose serving warehouse is the ads-by-format scenario's real build."""
    data_dir = tmp_path_factory.mktemp("page-ad-formats") / "data"
    dbt_db = build_golden_warehouse(data_dir, ad_format_scenario())
    shutil.copyfile(dbt_db, DataLayout(data_dir).serving_db)
    return data_dir


@pytest.fixture
def formats_dir(monkeypatch: pytest.MonkeyPatch, formats_data_dir: Path) -> Iterator[Path]:
    yield from use_data_dir(monkeypatch, formats_data_dir)


def test_the_format_table_breaks_every_ad_metric_down_by_format(formats_dir: Path) -> None:
    at = open_page("ads")
    assert [tab.label for tab in at.tabs][-1] == "Per format"
    per_ad, per_position, _, per_format = _tables(at)
    assert per_format["name"].tolist() == ["linear", "overlay", "squeezeback"]
    assert per_format["ad_impressions"].tolist() == [2, 2, 2]
    for row in per_format.to_dict("records"):
        expected = EXPECTED_RATES[row["name"]]
        assert {name: row[name] for name in expected} == pytest.approx(expected), row["name"]
    assert per_ad.set_index("name")["ad_formats"].to_dict()["ad_L2"] == "linear"
    assert per_position.set_index("name")["ad_formats"].to_dict() == {
        "pre": "linear",
        "mid": "overlay, squeezeback",
    }


def test_a_type_without_ads_says_so(golden_dir: Path) -> None:
    # The scenario's ads play in the VOD; its live stream has none.
    at = open_page("ads", {"type": "live"})

    assert any("No ad plays" in info.value for info in at.info)
    assert not at.metric


def test_platform_and_country_do_not_apply_and_the_page_says_so(golden_dir: Path) -> None:
    at = open_page("ads", {"platform": "web"})

    assert any("platform and country filters do not apply" in c.value for c in at.caption)
    assert metrics(at)["Impressions"] == "2"

    at = open_page("ads")
    assert not any("do not apply" in c.value for c in at.caption)


def test_empty_state_without_a_warehouse(empty_dir: Path) -> None:
    at = open_page("ads")

    assert [title.value for title in at.title] == ["Ads"]
    assert any("No data yet" in info.value for info in at.info)
    assert not at.metric


def test_empty_state_with_an_empty_warehouse(empty_dir: Path) -> None:
    write_serving_db(empty_dir, [])

    at = open_page("ads")

    assert any("No data yet" in info.value for info in at.info)
    assert not at.metric


def test_a_warehouse_without_the_ad_mart_names_it(empty_dir: Path) -> None:
    warehouse_of_known_rows(empty_dir)

    at = open_page("ads")

    (warning,) = at.warning
    assert "main.ad_placement_daily_performance" in warning.value
    assert not at.metric
