"""Ads at their grain and tips per currency, through the real API, pipeline and dbt build.

The scenario of `tests.support.ad_scenario` (two ads in a pre-roll and two in a mid-roll of one
view, one clicked, one skipped, an overlay; a play whose quartiles and skip fall after
midnight while its impression, delivered last, came before it; a play without impression;
tips in EUR, USD and JPY) is posted to the real API process, the pipeline's local mode runs
as its own command and `dbt build` builds every model and runs every test
(`tests.support.golden.build_golden_warehouse`). Each ad mart must show the numbers worked out by
hand in `tests.support.ad_scenario`, and no rate above 100 %.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.ad_scenario import (
    AD_COUNTS,
    EXPECTED_PER_AD,
    EXPECTED_PER_AD_PLAY,
    EXPECTED_PER_CONTENT,
    EXPECTED_PER_CREATOR_DAY,
    EXPECTED_PER_POSITION,
    EXPECTED_TIPS,
    ad_scenario,
)
from tests.support.golden import build_golden_warehouse

pytestmark = pytest.mark.integration

RATES = {
    "q25_reach_pct": "ad_q25",
    "q50_reach_pct": "ad_q50",
    "q75_reach_pct": "ad_q75",
    "q100_reach_pct": "ad_q100",
    "ad_completion_rate_pct": "ad_q100",
    "skip_rate_pct": "ad_skips",
    "ctr_pct": "ad_clicks",
}
"""Each rate and the count it divides by ad_impressions."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, datetime.date], Path]:
    """The days ("before" and "after" the scenario's midnight) and the built warehouse."""
    scenario = ad_scenario()
    midnight = scenario["midnight"]
    days = {"before": (midnight - datetime.timedelta(days=1)).date(), "after": midnight.date()}
    return days, build_golden_warehouse(tmp_path_factory.mktemp("golden-ads") / "data", scenario)


def rows(db: Path, table: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(f"select * from main.{table}")
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def by_key(
    db: Path, table: str, keys: tuple[str, ...], days: dict[str, datetime.date]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The mart's rows by key, its day written as "before" or "after" midnight."""
    names = {day: name for name, day in days.items()}
    keyed = {}
    for row in rows(db, table):
        key = tuple(names[row[k]] if k == "day" else row[k] for k in keys)
        assert key not in keyed, f"{table}: one row per {keys}"
        keyed[key] = row
    return keyed


MARTS = [
    ("ad_placement_daily_performance", ("day", "ad_id", "position", "ad_format", "content_id"),
     EXPECTED_PER_AD_PLAY),
    ("ad_daily_performance", ("day", "ad_id", "ad_format"), EXPECTED_PER_AD),
    ("ad_position_daily_performance", ("day", "position", "ad_format"), EXPECTED_PER_POSITION),
    ("content_daily_ad_performance", ("day", "content_id", "ad_format"), EXPECTED_PER_CONTENT),
    ("creator_daily_ad_performance", ("day", "creator_id", "ad_format"),
     EXPECTED_PER_CREATOR_DAY),
]  # fmt: skip


@pytest.mark.parametrize(("table", "keys", "expected"), MARTS, ids=[m[0] for m in MARTS])
def test_ad_marts_count_each_play_with_its_impression(
    built: tuple[dict[str, datetime.date], Path],
    table: str,
    keys: tuple[str, ...],
    expected: dict[tuple[str, ...], tuple[int, ...]],
) -> None:
    days, db = built
    actual = by_key(db, table, keys, days)
    assert set(actual) == set(expected)
    for key, counts in expected.items():
        row = actual[key]
        assert tuple(row[name] for name in AD_COUNTS) == counts, (table, key)
        for rate, count in RATES.items():
            impressions = row["ad_impressions"]
            want = 100.0 * row[count] / impressions if impressions else None
            assert row[rate] == pytest.approx(want), (table, key, rate)
            assert row[rate] is None or 0.0 <= row[rate] <= 100.0


def test_the_play_straddling_midnight_reaches_100_pct_on_its_impressions_day(
    built: tuple[dict[str, datetime.date], Path],
) -> None:
    """ad_A's pre-rolls the day before: 2 impressions, both reached 25 and 50 % (one of
    them after midnight), one was skipped (after midnight) and one clicked."""
    days, db = built
    row = by_key(db, "ad_placement_daily_performance", ("day", "ad_id", "position"), days)[
        ("before", "ad_A", "pre")
    ]
    assert (row["q25_reach_pct"], row["q50_reach_pct"], row["q75_reach_pct"]) == (
        100.0,
        100.0,
        50.0,
    )
    assert (row["skip_rate_pct"], row["ctr_pct"]) == (50.0, 50.0)


def test_tips_per_creator_day_and_currency(
    built: tuple[dict[str, datetime.date], Path],
) -> None:
    days, db = built
    tips = by_key(db, "creator_daily_tips", ("day", "currency"), days)
    assert {key: (row["tips"], row["tips_amount_minor"]) for key, row in tips.items()} == (
        EXPECTED_TIPS
    )
    assert {row["creator_id"] for row in tips.values()} == {"cr_ads"}
    totals = by_key(db, "creator_daily_performance", ("day", "creator_id"), days)
    assert totals[("before", "cr_ads")]["tips"] == 3
    assert totals[("after", "cr_ads")]["tips"] == 1
