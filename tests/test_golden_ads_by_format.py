"""Ads by format (`ad_format`) through the real API, pipeline and dbt build.

The scenario of `tests.support.ad_format_scenario` (two ads of each format in one view, one
of them naming no format, so counted as linear) goes through the real API, the pipeline's
local mode and `dbt build` (`tests.support.golden.build_golden_warehouse`). Every ad mart,
summed per format, must give the counts worked out by hand, and each format its own rates
(METRICS.md: "Every ad metric also breaks down by ad_format").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.ad_format_scenario import (
    CONTENT,
    CREATOR,
    EXPECTED_PER_FORMAT,
    EXPECTED_RATES,
    FORMAT_COUNTS,
    POSITIONS,
    ad_format_scenario,
)
from tests.support.golden import build_golden_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

MARTS = (
    "ad_placement_daily_performance",
    "ad_daily_performance",
    "ad_position_daily_performance",
    "content_daily_ad_performance",
    "creator_daily_ad_performance",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    scenario = ad_format_scenario()
    data_dir = tmp_path_factory.mktemp("golden-ad-formats") / "data"
    return scenario, build_golden_warehouse(data_dir, scenario)


def rows(db: Path, table: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(f"select * from main.{table}")
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


@pytest.mark.parametrize("mart", MARTS)
def test_every_ad_mart_adds_up_per_format(built: tuple[dict[str, Any], Path], mart: str) -> None:
    scenario, db = built
    per_format: dict[str, list[int]] = {}
    for row in rows(db, mart):
        assert row["day"] == scenario["view_start"].date()
        totals = per_format.setdefault(row["ad_format"], [0] * len(FORMAT_COUNTS))
        for index, name in enumerate(FORMAT_COUNTS):
            totals[index] += row[name]
    assert {k: tuple(v) for k, v in per_format.items()} == EXPECTED_PER_FORMAT


@pytest.mark.parametrize(
    ("mart", "key"),
    [
        ("content_daily_ad_performance", ("content_id", CONTENT)),
        ("creator_daily_ad_performance", ("creator_id", CREATOR)),
    ],
)
def test_rates_are_per_format(
    built: tuple[dict[str, Any], Path], mart: str, key: tuple[str, str]
) -> None:
    _, db = built
    by_format = {row["ad_format"]: row for row in rows(db, mart) if row[key[0]] == key[1]}
    assert set(by_format) == set(EXPECTED_RATES)
    for ad_format, rates in EXPECTED_RATES.items():
        assert {name: by_format[ad_format][name] for name in rates} == pytest.approx(rates)


def test_positions_and_ads_keep_their_format(built: tuple[dict[str, Any], Path]) -> None:
    _, db = built
    positions: dict[str, set[str]] = {}
    for row in rows(db, "ad_position_daily_performance"):
        positions.setdefault(row["position"], set()).add(row["ad_format"])
    assert positions == POSITIONS
    formats = {row["ad_id"]: row["ad_format"] for row in rows(db, "ad_daily_performance")}
    assert formats == {
        "ad_L1": "linear",
        "ad_L2": "linear",  # named no format
        "ad_S1": "squeezeback",
        "ad_S2": "squeezeback",
        "ad_O1": "overlay",
        "ad_O2": "overlay",
    }
