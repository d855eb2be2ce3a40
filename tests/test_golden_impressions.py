"""Impressions and impression click-through, through the real API, pipeline and dbt build.

The scenario of `tests.support.impression_scenario` (feed, search, tray and profile
impressions and views of three contents of two creators over three UTC days, a retried
impression, an impression naming the wrong creator, a view without a surface, a view's
play_requested delivered last) is posted to the real API process, the pipeline's local
mode runs as its own command and `dbt build` builds every model and runs every test
(`tests.support.golden.build_golden_warehouse`). The discovery marts must show the numbers
worked out by hand there: CTR per surface with views from another surface not counted,
no CTR without impressions, and the creator-day totals.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.golden import build_golden_warehouse
from tests.support.impression_scenario import (
    EXPECTED_CONTENT_DAYS,
    EXPECTED_CREATOR_DAYS,
    EXPECTED_CREATOR_TOTALS,
    day_d,
    golden_scenario,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_golden_warehouse(
        tmp_path_factory.mktemp("golden-impressions") / "data", golden_scenario()
    )


def rows(db: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        relation = connection.execute(sql)
        names = [column[0] for column in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def offset(day: date) -> int:
    return (day - day_d()).days


def test_content_ctr_per_surface_counts_only_that_surface(warehouse: Path) -> None:
    found = {
        (offset(row["day"]), row["content_id"], row["surface"]): (
            row["impressions"],
            row["surfaced_views"],
            row["impression_ctr"],
        )
        for row in rows(warehouse, "select * from main.content_daily_impressions")
    }
    assert found == EXPECTED_CONTENT_DAYS
    owners = rows(
        warehouse, "select distinct content_id, creator_id from main.content_daily_impressions"
    )
    assert {(r["content_id"], r["creator_id"]) for r in owners} == {
        ("vod_a1", "cr_a"),
        ("clip_a2", "cr_a"),
        ("vod_b1", "cr_b"),
    }, "the catalogue's owner wins over an impression naming cr_b"


def test_creator_days_sum_before_dividing_and_total_every_surface(warehouse: Path) -> None:
    found = rows(warehouse, "select * from main.creator_daily_impressions")
    per_surface = {
        (offset(row["day"]), row["creator_id"], row["surface"]): (
            row["impressions"],
            row["surfaced_views"],
            row["impression_ctr"],
        )
        for row in found
    }
    assert per_surface == EXPECTED_CREATOR_DAYS
    totals = {
        (offset(row["day"]), row["creator_id"]): row["creator_day_impressions"] for row in found
    }
    assert totals == EXPECTED_CREATOR_TOTALS


def test_views_carry_their_surface_and_a_view_without_one_counts_nowhere(
    warehouse: Path,
) -> None:
    sessions = rows(
        warehouse,
        "select content_id, surface, view_date from main.playback_sessions"
        " order by content_id, surface",
    )
    no_surface = [row for row in sessions if row["surface"] is None]
    assert [(row["content_id"], row["view_date"]) for row in no_surface] == [("vod_a1", day_d())]
    assert len(sessions) == 11
    d_plus_one = day_d() + timedelta(days=1)
    assert not [row for row in sessions if row["view_date"] == d_plus_one]
